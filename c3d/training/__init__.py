"""Training and evaluating C3D on labelled videos.

``datasets`` (class folders, UCF101 lists) → ``input`` (tf.data random clips for
training) → ``run`` (``c3d train``: options, run dir, fit) with ``callbacks``
(checkpoints, logs, validation through the streaming path) → ``evaluation`` (clip and
video accuracy, confusion matrix).
"""
