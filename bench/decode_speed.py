"""Decoding throughput without a model: frames/s and clips/s of decode + resize + normalise.

``decoding_throughput`` runs the streaming path (``c3d.video.stream.run_videos``) with a
stand-in model that costs nothing, so the figure is what the decoders can feed a model;
with more decoders than videos, a long video is cut into parts (``c3d.video.segments``).
``raw_decode_fps`` is OpenCV alone, on one thread: the per-core decoding figure.
"""

import time

import cv2
import numpy as np


class _NoModel:
    """A model that costs nothing, taking uint8 view crops as c3d's own predictors do
    (``c3d.model.inference.Predictor``): the mean is the model's work, not the decoders'."""

    def __call__(self, batch):
        return np.zeros((len(batch), 1), np.float32)

    def on_view_crops(self, crops, views, clip_format):
        return np.zeros((len(crops), 1), np.float32)


no_model = _NoModel()


def decoding_throughput(videos, decoders, batch_size=8, stride=8):
    """{frames_per_s, clips_per_s} of the streaming path over ``videos`` (no model)."""
    from c3d.video.stream import run_videos

    start = time.perf_counter()
    frames = clips = 0
    for result in run_videos(
        list(videos), no_model, batch_size=batch_size, decoders=decoders, stride=stride
    ):
        if not result.ok:
            raise RuntimeError(result.reason)
        frames += result.n_frames
        clips += len(result.starts)
    seconds = time.perf_counter() - start
    return {"frames_per_s": frames / seconds, "clips_per_s": clips / seconds}


def raw_decode_fps(path, threads=1, max_frames=None):
    """Frames/s of ``cv2.VideoCapture.read`` with FFmpeg on ``threads`` threads."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
    frames = 0
    start = time.perf_counter()
    try:
        while max_frames is None or frames < max_frames:
            ok, _ = capture.read()
            if not ok:
                break
            frames += 1
    finally:
        capture.release()
    return frames / (time.perf_counter() - start)
