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


def open_video(path, gpu=False, threads=None):
    """Open ``path`` for decoding; raise VideoError with the reason if that is impossible.

    ``gpu``: decode on the GPU (``GpuCapture``); needs ``gpu_decoding_available()``.
    ``threads``: FFmpeg's decoding threads for this capture (None: OpenCV's default,
    one per CPU this process may use). Several decoders at once should share the
    CPUs: each at the default, N decoders ran N × CPUs FFmpeg threads.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoError(f"{path}: no such file")
    if os.path.isdir(path):
        raise VideoError(f"{path}: is a folder, not a video")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    if threads is None:
        capture = cv2.VideoCapture(path)
    else:
        capture = cv2.VideoCapture(path, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, int(threads)])
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{path}: not a video OpenCV can open")
    if gpu:
        return GpuCapture(path, capture)
    return capture


def gpu_decoding_available():
    """Whether OpenCV decodes on an NVIDIA GPU here: ``cv2.cudacodec`` and a CUDA device.

    The OpenCV wheels on PyPI are built without CUDA, so this is False unless OpenCV was
    built with CUDA and NVIDIA's video codec SDK (NVCUVID).
    """
    if getattr(cv2, "cudacodec", None) is None:
        return False
    try:
        return cv2.cuda.getCudaEnabledDeviceCount() > 0
    except (AttributeError, cv2.error):
        return False


class GpuCapture:
    """``cv2.cudacodec.VideoReader`` (NVDEC) behind the part of ``cv2.VideoCapture`` c3d uses.

    Not run by the test suite (its machines have no GPU): untested. Frames are decoded
    on the GPU and downloaded as BGR; NVDEC's colour conversion is not FFmpeg's, so
    features differ slightly from those of CPU decoding. The container's facts (fps,
    declared frame count) come from the CPU capture, which decodes nothing. It cannot
    seek, so long videos are decoded in one piece (it is fast enough not to need parts).
    """

    def __init__(self, path, capture):
        self._capture = capture
        try:
            self._reader = cv2.cudacodec.createVideoReader(path)
            self._reader.set(cv2.cudacodec.ColorFormat_BGR)
        except cv2.error as exc:
            capture.release()
            reason = " ".join(str(exc).split())
            raise VideoError(f"{path}: cannot decode on the GPU ({reason})") from None

    def isOpened(self):
        return self._reader is not None

    def get(self, prop):
        return self._capture.get(prop)

    def set(self, prop, value):
        return False

    def grab(self):
        return bool(self._reader.grab())

    def read(self):
        ok, frame = self._reader.nextFrame()
        if not ok or frame is None:
            return False, None
        return True, frame.download()

    def release(self):
        self._capture.release()
        self._reader = None


def video_fps(capture):
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and fps == fps and fps > 0 else 0.0


def declared_frame_count(capture):
    """The frame count the container declares (0 when unknown); a hint, never the truth."""
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    # Streams without a count report -1 or garbage like -2**63 / fps.
    return int(count) if count == count and 0 < count < 2**31 else 0


def seek(capture, frame):
    """Ask ``capture`` to go to frame ``frame``; False when it refuses.

    Inexact for some codecs and containers (OpenCV computes the frame from timestamps):
    where the frame must be exact, check what was decoded (``c3d.video.segments``).
    """
    return frame == 0 or bool(capture.set(cv2.CAP_PROP_POS_FRAMES, frame))


def iter_frames(capture, keep=None, first_index=0):
    """Yield the BGR uint8 frames of an opened capture until decoding stops; releases it.

    With ``keep`` (a function of the frame index), frames it rejects are decoded (the
    stream must be) but not converted to BGR, and yielded as None: cheaper when most
    frames are not needed, e.g. clips with a stride much larger than their length.
    ``first_index`` is the index of the capture's next frame (after a ``seek``).
    """
    try:
        index = first_index
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
