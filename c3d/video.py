"""Decoding video files into BGR uint8 frames with OpenCV, streamed one frame at a time.

The frame count of a video is what decoding yields, not what the container claims
(``CAP_PROP_FRAME_COUNT`` is often wrong for AVI/MP4 files with broken indexes).
"""

import os

import cv2

from c3d.errors import C3DError

VIDEO_EXTENSIONS = (
    ".avi",
    ".mp4",
    ".m4v",
    ".mkv",
    ".mov",
    ".webm",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".flv",
    ".3gp",
)


class VideoError(C3DError):
    """A video that cannot be used: missing, empty, not a video, or undecodable."""


def is_video_file(path):
    return os.fspath(path).lower().endswith(VIDEO_EXTENSIONS)


def open_video(path):
    """Open ``path`` for decoding; raise VideoError with the reason if that is impossible."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoError(f"{path}: no such file")
    if os.path.isdir(path):
        raise VideoError(f"{path}: is a folder, not a video")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{path}: not a video OpenCV can open")
    return capture


def video_fps(capture):
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and fps == fps and fps > 0 else 0.0


def iter_frames(capture):
    """Yield the BGR uint8 frames of an opened capture until decoding stops; releases it."""
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            yield frame
    finally:
        capture.release()
