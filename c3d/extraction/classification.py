"""Classes of videos: the mean of the clips' softmax, its top-k labels, and each clip's time."""

import numpy as np

from c3d.extraction.features import clip_format_for, run_one
from c3d.model.inference import predict_fn
from c3d.model.labels import class_labels, weights_labels
from c3d.model.loader import DEFAULT_WEIGHTS, cached_model
from c3d.video.clips import DEFAULT_STRIDE

CLIP_LENGTH = 16  # frames a clip spans: its time is its centre's


def top_k(probabilities, k):
    """Indices of the k largest values, largest first (ties: lower index first)."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")
    return order[: max(0, int(k))]


def clip_seconds(starts, fps, clip_length=CLIP_LENGTH):
    """Each clip's centre in seconds (frame numbers where the rate is unknown)."""
    centres = np.asarray(starts, dtype=np.float64) + clip_length / 2
    return centres / fps if fps else centres


def classification(result, labels, top=5):
    """The classify() dict of a stream VideoResult whose outputs are class probabilities."""
    clip_probabilities = np.asarray(result.outputs, dtype=np.float32)
    names = class_labels(clip_probabilities.shape[1], labels)
    video_probabilities = clip_probabilities.mean(axis=0, dtype=np.float64).astype(np.float32)
    best = top_k(video_probabilities, top)
    return {
        "labels": [names[i] for i in best],
        "probabilities": video_probabilities[best],
        "class_ids": best.astype(np.int64),
        "video_probabilities": video_probabilities,
        "clip_probabilities": clip_probabilities,
        "starts": result.starts,
        "clip_seconds": clip_seconds(result.starts, result.fps),
        "fps": result.fps,
        "n_frames": result.n_frames,
        "padded": result.padded,
        "class_names": names,
    }


def classify(
    path,
    model=None,
    top=5,
    stride=DEFAULT_STRIDE,
    batch_size=None,
    mean=None,
    weights=DEFAULT_WEIGHTS,
    labels=None,
    precision="fp32",
):
    """Classify one video: the mean of its clips' class probabilities, and the top ``top``.

    Args:
        path: a video file.
        model: a full C3D ending in the softmax (``c3d.C3D_model``); None loads
            ``weights`` once per process.
        top: how many of the best classes to return.
        stride, batch_size, mean: as in ``c3d.extract_features``.
        labels: class names in the model's output order; default those published with
            the ``weights`` name (Sports-1M's 487, UCF101's 101: package data), else the
            Sports-1M ones for a 487-way model, or "class N".
        weights, precision: the model loaded when ``model`` is None, as in
            ``c3d.extract_features``.

    Returns:
        dict: ``labels`` and ``probabilities`` (the top classes, best first),
        ``class_ids`` (their indices), ``video_probabilities`` (C,),
        ``clip_probabilities`` (N, C), ``starts``, ``clip_seconds`` (each clip's centre),
        ``fps``, ``n_frames``, ``padded``, ``class_names`` (all C labels).
    """
    if model is None:
        model = cached_model(weights, precision, need_classifier=True)
        if labels is None:
            labels = weights_labels(weights)
    clip_format = clip_format_for(model, mean)
    result = run_one(
        path, predict_fn(model), clip_format=clip_format, stride=stride, batch_size=batch_size
    )
    return classification(result, labels, top)
