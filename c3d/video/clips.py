"""Cutting a stream of frames into fixed-length clips (C3D: 16 frames, stride 8).

Clips start at 0, stride, 2·stride … while start + length ≤ frames. A video shorter
than one clip (but not empty) gives one clip padded by repeating its last frame.
Only a rolling window of ``length`` frames is held, whatever the video's length.

``length`` and ``stride`` count video frames. A clip may sample its window every
``step``-th frame: Res3D-18 takes 8 frames every 2nd of a 16-frame window
(``ClipFormat.span`` = frames x step), so with the same ``--stride`` its clips start
where C3D's do.
"""

import collections
import dataclasses

import numpy as np

from c3d.model.plan import CLIP_SHAPE

CLIP_LENGTH = CLIP_SHAPE[0]
DEFAULT_STRIDE = 8  # the paper's: clips of 16 frames overlapping by 8


@dataclasses.dataclass(frozen=True)
class Clip:
    start: int  # index of the clip's first frame in the video
    frames: np.ndarray  # (length // step, H, W, C), the frames as given (a tuple: stack=False)
    padded: bool  # the video was shorter than a clip; its last frame was repeated


def check_stride(stride):
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return int(stride)


def clip_starts(n_frames, stride=DEFAULT_STRIDE, length=CLIP_LENGTH):
    """First frames of the clips of a video of ``n_frames`` frames."""
    stride = check_stride(stride)
    if n_frames <= 0:
        return []
    if n_frames < length:
        return [0]
    return list(range(0, n_frames - length + 1, stride))


def middle_clip_start(n_frames, length=CLIP_LENGTH, stride=DEFAULT_STRIDE):
    """The stride-aligned clip nearest the middle of a video: the one validation scores."""
    starts = clip_starts(n_frames, stride=stride, length=length)
    return starts[len(starts) // 2]


def pad_clip(frames, length):
    """The frames of a clip shorter than ``length``, padded by repeating the last one."""
    frames = list(frames)
    if not frames:
        raise ValueError("cannot pad an empty clip")
    return frames + [frames[-1]] * (length - len(frames))


def frame_in_a_clip(index, stride=DEFAULT_STRIDE, length=CLIP_LENGTH):
    """Whether frame ``index`` can belong to a clip (frames between clips are not needed).

    The latest clip start at or before ``index`` is the only candidate: earlier clips
    end earlier. True for every frame when stride ≤ length.
    """
    return index % stride < length


class ClipCutter:
    """Feed frames one by one (``push``), get clips back; ``finish`` at the end of the video.

    A clip is the window of ``length`` frames ending with the frame pushed, sampled every
    ``step``-th frame from its start (``length`` a multiple of ``step``): frames
    start, start + step, … Frames that belong to no clip may be pushed as None. After
    ``finish``, ``n_frames`` is the number of frames pushed and ``padded`` whether the one
    clip was padded.

    A cutter may start inside a video (a part of it, see ``c3d.video.segments``):
    ``first_frame`` is the index of the first frame pushed, and no clip starting before
    ``first_clip`` is cut (its frames may then be None). ``n_frames`` counts from 0.

    ``stack=False``: a Clip's ``frames`` is the tuple of the frames pushed, not one
    array, for a caller that copies them once itself (the decoders write them straight
    into their batch rows: stacking first copied every frame once more).
    """

    def __init__(
        self,
        stride=DEFAULT_STRIDE,
        length=CLIP_LENGTH,
        *,
        step=1,
        first_frame=0,
        first_clip=0,
        stack=True,
    ):
        self._stack = np.stack if stack else tuple
        self.stride = check_stride(stride)
        self.length = length
        self.step = check_stride(step)
        if length % self.step:
            raise ValueError(f"a clip's span ({length}) must be a multiple of its step ({step})")
        self.n_frames = int(first_frame)
        self.first_clip = int(first_clip)
        self.padded = False
        self._window = collections.deque(maxlen=length)

    def push(self, frame):
        """Add the next frame; return the Clip that ends with it, or None."""
        self._window.append(frame)
        self.n_frames += 1
        start = self.n_frames - self.length
        if start >= self.first_clip and start % self.stride == 0:
            return Clip(start, self._sampled(self._window), padded=False)
        return None

    def _sampled(self, window):
        return self._stack(list(window)[:: self.step] if self.step > 1 else window)

    def finish(self):
        """Return the padded clip of a video shorter than one clip, else None."""
        if 0 < self.n_frames < self.length:
            self.padded = True
            return Clip(0, self._sampled(pad_clip(self._window, self.length)), padded=True)
        return None


def iter_clips(frames, stride=DEFAULT_STRIDE, length=CLIP_LENGTH, step=1):
    """Yield the Clips of an iterable of frames (None allowed for frames in no clip)."""
    cutter = ClipCutter(stride, length, step=step)
    for frame in frames:
        clip = cutter.push(frame)
        if clip is not None:
            yield clip
    clip = cutter.finish()
    if clip is not None:
        yield clip
