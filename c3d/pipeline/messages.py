"""What flows between the stages of the streaming core, whoever schedules them.

A decoding job yields ``Clip`` messages, then exactly one end message: ``VideoDone``
(how many clips, at which rate, from which parts), ``VideoFailed`` (one line,
``PATH: reason``) or ``VideoTurnedDown`` (its claim was refused: another process has it).
A scheduler turns the rows the model computed for a video, once its end has come, into
one of the results: ``VideoResult``, ``VideoFailure`` or ``VideoSkipped``.
"""

import dataclasses
import os

import numpy as np


@dataclasses.dataclass
class Clip:
    """One clip's views, as the model's rows will take them: uint8 crops, the mean is
    subtracted where the batch is made or in the model's graph.

    ``frames`` are the clip's T frames, each as its V views (``ClipFormat.frame_views``:
    numpy views into the resized frame, which nothing writes to again). A view of the
    clip is copied once, into its batch row (``view``); ``views`` stacks them all.
    """

    index: int  # the video's position in the run
    start: int  # first frame of the clip (of the resampled stream with --fps)
    frames: tuple  # T tuples of V uint8 (H, W, 3) arrays
    part: int = 0  # which part of its video (c3d.video.segments) it came from

    @property
    def n_views(self):
        return len(self.frames[0])

    def view(self, view, out=None):
        """View ``view`` of the clip, (T, H, W, 3) uint8, written into ``out`` if given."""
        return np.stack([frame[view] for frame in self.frames], out=out)

    @property
    def views(self):
        """(V, T, H, W, 3) uint8: every view, as ``ClipFormat.view_crops`` gives them."""
        return np.stack([self.view(view) for view in range(self.n_views)])


@dataclasses.dataclass
class VideoDone:
    index: int
    n_clips: int  # clips of the kept parts
    fps: float
    n_frames: int
    padded: bool
    parts: frozenset = frozenset({0})  # the parts whose clips make the result
    source_fps: float | None = None  # the video's rate, when its frames were resampled


@dataclasses.dataclass
class VideoFailed:
    index: int
    reason: str  # one line, "PATH: what is wrong"


@dataclasses.dataclass
class VideoTurnedDown:
    index: int


END_MESSAGES = (VideoDone, VideoFailed, VideoTurnedDown)


@dataclasses.dataclass
class VideoResult:
    index: int  # position of the video in the list given to the scheduler
    video: object  # that list's item (a path or an inputs.VideoInput)
    outputs: np.ndarray  # (N, D) float32, one row per clip; (N, V, D) with V > 1 views
    starts: np.ndarray  # (N,) int64, first frame of each clip
    fps: float  # the frame rate of the clips' frames (the resampled one with ``fps``)
    n_frames: int  # frames decoded (resampled ones with ``fps``)
    padded: bool  # one clip, padded by repeating the last frame
    source_fps: float | None = None  # the video's own rate, when resampled to ``fps``

    ok = True
    skipped = False


@dataclasses.dataclass
class VideoFailure:
    index: int
    video: object
    reason: str  # one line, "PATH: what is wrong"

    ok = False
    skipped = False


@dataclasses.dataclass
class VideoSkipped:
    """A video the claim turned down: done, or being done, by another process."""

    index: int
    video: object

    ok = False
    skipped = True


def path_of(video):
    return os.fspath(getattr(video, "path", video))


def one_line(error):
    """An exception as one line (cv2.error messages span several)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def failure_reason(path, error):
    """Why a video failed, as one line ``PATH: reason``."""
    from c3d.video.decode import VideoError

    if isinstance(error, VideoError):
        return str(error)
    return f"{path}: {one_line(error)}"  # a corrupt file can make OpenCV raise anything
