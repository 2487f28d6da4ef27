"""Decoding video files into BGR uint8 frames with OpenCV, streamed one frame at a time.

The frame count of a video is what decoding yields, not what the container claims
(``CAP_PROP_FRAME_COUNT`` is often wrong for AVI/MP4 files with broken indexes). The
declared count is only used to recognise a truncated file: one whose decoding stops
well before the count its header declares (see ``check_decoded``).
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

# A video is reported truncated when decoding yields fewer frames than its header
# declares, by more than this share of the declared count (and more than
# TRUNCATION_MIN_FRAMES): containers without a frame index (MKV, WebM) only estimate
# their count from the duration, which can be off by a few frames on sound files.
TRUNCATION_TOLERANCE = 0.05
TRUNCATION_MIN_FRAMES = 2


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


def declared_frame_count(capture):
    """The frame count the container declares (0 when unknown); a hint, never the truth."""
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    # Streams without a count report -1 or garbage like -2**63 / fps.
    return int(count) if count == count and 0 < count < 2**31 else 0


def iter_frames(capture, keep=None):
    """Yield the BGR uint8 frames of an opened capture until decoding stops; releases it.

    With ``keep`` (a function of the frame index), frames it rejects are decoded (the
    stream must be) but not converted to BGR, and yielded as None: cheaper when most
    frames are not needed, e.g. clips with a stride much larger than their length.
    """
    try:
        index = 0
        while True:
            if keep is None or keep(index):
                ok, frame = capture.read()
                if not ok or frame is None:
                    return
                yield frame
            else:
                if not capture.grab():
                    return
                yield None
            index += 1
    finally:
        capture.release()


def check_decoded(path, decoded, declared):
    """Raise VideoError if a video yielded no frames or stopped well short of its header."""
    if decoded == 0:
        raise VideoError(f"{os.fspath(path)}: no frames could be decoded")
    missing = declared - decoded
    if missing > max(TRUNCATION_MIN_FRAMES, TRUNCATION_TOLERANCE * declared):
        raise VideoError(
            f"{os.fspath(path)}: truncated or corrupt: decoding stopped after {decoded} "
            f"of the {declared} frames the file declares"
        )
