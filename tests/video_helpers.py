"""Helpers for the extraction tests: small generated videos and an independent decoder."""

import os

import cv2
import numpy as np
from synthetic_videos import write_video


def make_video(path, n_frames, seed=0, size=(64, 48)):
    """A small synthetic video (MJPG .avi, mp4v .mp4) of ``n_frames`` frames."""
    os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
    return str(write_video(path, n_frames, size=size, fps=25.0, seed=seed))


def decode_all(path):
    """Every frame of a video, read with plain OpenCV (not through c3d.video)."""
    capture = cv2.VideoCapture(os.fspath(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)


def truncate_copy(source, target, fraction):
    """Copy the first ``fraction`` of ``source``'s bytes to ``target`` (a cut download)."""
    with open(source, "rb") as f:
        data = f.read()
    with open(target, "wb") as f:
        f.write(data[: int(len(data) * fraction)])
    return str(target)
