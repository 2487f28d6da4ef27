"""How frames become model input for a clip shape T x H x W: resize, mean subtraction, crop.

One definition shared by training, validation and ``c3d evaluate``, so that a clip is
normalised the same way wherever it is scored.

For the standard 16x112x112 input this is the original C3D recipe (Caffe-exact, see
``c3d.preprocessing``): frames resized to 128x171, the Sports-1M mean cube subtracted
at the uncropped position, a 112x112 crop. For other shapes everything scales:

- the resize target keeps C3D's crop-to-resize ratio: (round(H * 128/112),
  round(W * 171/112)), e.g. 37x49 for a 32x32 crop;
- the mean cube is resized spatially (bilinear) to that target and sampled in time at
  T evenly spaced frames of its 16 (``np.linspace``), so it still varies per pixel the
  way the Sports-1M mean does (at 16x112x112 both steps are the identity).
"""

import functools

import numpy as np

from c3d.clips import DEFAULT_STRIDE, clip_starts
from c3d.preprocessing import CROP_SIZE, RESIZE_HW, resize_frame
from c3d.resources import sports1m_mean_cube

DEFAULT_INPUT_SHAPE = (16, 112, 112)


class ClipFormat:
    """The clip geometry of a model input (frames, height, width) and its normalisation."""

    def __init__(self, frames, height, width):
        self.frames, self.height, self.width = int(frames), int(height), int(width)
        if min(self.frames, self.height, self.width) < 1:
            raise ValueError(f"clip shape must be positive, got {self.shape}")
        self.resize_hw = (
            round(self.height * RESIZE_HW[0] / CROP_SIZE),
            round(self.width * RESIZE_HW[1] / CROP_SIZE),
        )

    @classmethod
    def from_input_shape(cls, input_shape):
        """(T, H, W) or (T, H, W, 3) -> ClipFormat."""
        return cls(*tuple(input_shape)[:3])

    @property
    def shape(self):
        return (self.frames, self.height, self.width)

    @property
    def input_shape(self):
        return (self.frames, self.height, self.width, 3)

    def __repr__(self):
        return f"ClipFormat{self.shape}"

    def resize(self, frame):
        """One BGR uint8 frame resized to ``resize_hw`` (bilinear, still uint8, like Caffe)."""
        return resize_frame(frame, self.resize_hw)

    @property
    def mean(self):
        """(T, resize H, resize W, 3) float32 BGR mean, aligned with a resized clip."""
        return _scaled_mean(self.frames, self.resize_hw)

    def center_offsets(self):
        """Top-left of the centre crop: integer halves of the margins (Caffe's test phase)."""
        rows, cols = self.resize_hw
        return (rows - self.height) // 2, (cols - self.width) // 2

    def random_offsets(self, rng):
        """Top-left of a uniformly random crop (Caffe's training phase)."""
        rows, cols = self.resize_hw
        return int(rng.integers(0, rows - self.height + 1)), int(
            rng.integers(0, cols - self.width + 1)
        )

    def normalize(self, resized_clip, offsets=None, flip=False):
        """Mean-subtract and crop a resized (T, rh, rw, 3) uint8 clip -> (T, H, W, 3) float32.

        ``offsets`` default to the centre crop. ``flip`` mirrors the result left-right after
        the subtraction, as Caffe's data layer does (the mean is taken unmirrored).
        """
        top, left = self.center_offsets() if offsets is None else offsets
        rows = slice(top, top + self.height)
        cols = slice(left, left + self.width)
        clip = resized_clip[:, rows, cols, :].astype(np.float32) - self.mean[:, rows, cols, :]
        if flip:
            clip = clip[:, :, ::-1, :]
        return np.ascontiguousarray(clip)


@functools.lru_cache(maxsize=8)
def _scaled_mean(frames, resize_hw):
    cube = sports1m_mean_cube().transpose(1, 2, 3, 0)  # Caffe (C, L, H, W) -> (L, H, W, C)
    picks = np.round(np.linspace(0, cube.shape[0] - 1, frames)).astype(int)
    mean = np.stack([resize_frame(cube[i], resize_hw) for i in picks]).astype(np.float32)
    mean.setflags(write=False)
    return mean


def pad_clip(frames, length):
    """Frames of a clip shorter than ``length`` padded by repeating the last one."""
    frames = list(frames)
    if not frames:
        raise ValueError("cannot pad an empty clip")
    return frames + [frames[-1]] * (length - len(frames))


def middle_clip_start(num_frames, length, stride=DEFAULT_STRIDE):
    """The stride-aligned clip nearest the middle of a video: the one validation scores."""
    starts = clip_starts(num_frames, stride=stride, length=length)
    return starts[len(starts) // 2]
