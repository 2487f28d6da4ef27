"""From video files to model input: decoding, clips, the clip format, the mean, streaming.

The data path reads top to bottom: ``inputs`` (which videos) → ``decode`` (frames) →
``clips`` (16-frame windows) → ``clip_format`` (resize, mean, crop) → ``stream``
(bounded queues, fixed-size batches, the model, per-video outputs).
"""
