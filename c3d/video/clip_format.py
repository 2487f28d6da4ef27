"""How raw frames become model input: resize, mean subtraction, crop. One definition.

The original C3D (Caffe fork, v1.0) read frames with OpenCV as uint8 BGR, resized them
to 128x171 with ``cv::resize`` (bilinear) while still uint8, subtracted a float mean cube
indexed at the *uncropped* position, and cropped 112x112: at the centre in the test phase
(offsets (128-112)//2 = 8 and (171-112)//2 = 29; torchvision's CenterCrop would round
29.5 up to 30, other pixels), at random offsets in training, where the crop may also be
mirrored after the subtraction. Cropping the frames and the mean alike before
subtracting gives the same numbers with less work, which is what ``normalize`` does.

``ClipFormat`` is that recipe for a clip shape T x H x W, used by extraction,
classification, evaluation and training alike. For the standard 16x112x112 it is the
Caffe recipe above exactly. For other shapes everything scales with the crop:

- frames are resized to keep C3D's crop-to-resize ratio: (round(H * 128/112),
  round(W * 171/112)), e.g. 37x49 for 32x32 crops;
- the mean cube is resized by the same factor (bilinear) and sampled in time at T evenly
  spaced frames of its L >= T (``np.linspace``), so it still varies per pixel as the
  Sports-1M mean does. At 16x112x112 both steps are the identity.

A mean cube of another size than the resized frame (the C3D fork also shipped a 128x128
mean) is aligned on the frame's centre, as the fork's centre crop of both did.

**Other models.** A clip format also says which video frames a clip takes and what is
subtracted: Res3D-18 (C3D v1.1, ``ClipFormat.for_model("res3d18")``) takes 8 frames every
2nd video frame (``step`` 2: a clip spans 16 video frames, as C3D's does, so the same
``--stride`` starts clips at the same frames) and subtracts 128 from every channel
(``mean=128.0``: the prototxt's ``mean_value``), with the same 128x171 resize and
(8, 29) centre crop.

**Views.** A clip is seen through one crop (the centre, as above) or ten: the ten crops
of torchvision's ``TenCrop`` that RTFM-style anomaly-detection codes take their C3D
features from (tianyu0207/RTFM#62). ``TenCrop(112)`` (torchvision/transforms/functional.py,
``five_crop`` and ``ten_crop``) takes, of the 128x171 frame minus the mean (subtracted at
full size), the crops at top-left (0, 0), top-right (0, 59), bottom-left (16, 0),
bottom-right (16, 59) and centre, then the same five of the horizontally flipped
(frame - mean). Its centre is ``int(round(margin / 2.0))``: Python rounds halves to even,
so 59 / 2 = 29.5 becomes 30, one column right of Caffe's (8, 29). A crop at (r, c) of the
flipped frame is the mirror image of the crop at (r, W - w - c) of the frame, which is how
``views`` computes it: no flipped copy of the whole frame is made.
"""

import functools
import os

import cv2
import numpy as np

from c3d.errors import C3DError
from c3d.model.plan import CLIP_SHAPE
from c3d.video.clips import CLIP_LENGTH, ClipCutter
from c3d.video.mean import load_mean

RESIZE_HW = (128, 171)  # every frame is resized to 128x171 (H x W) before cropping
CROP_SIZE = CLIP_SHAPE[1]
CROPS = (1, 10)  # views of a clip: the centre crop, or torchvision's ten crops


def resize_frame(frame, size_hw=RESIZE_HW):
    """Resize one H x W x 3 frame like the original (bilinear, in the frame's own dtype)."""
    height, width = size_hw
    if frame.shape[:2] == (height, width):
        return frame
    # INTER_LINEAR is what cv::resize defaults to in Caffe; INTER_AREA would differ
    # numerically (and is ~20x slower).
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)


class ClipFormat:
    """The clip geometry of a model input (frames, height, width) and its normalisation.

    Args:
        frames, height, width: the clip the model takes.
        mean: a mean cube (3, L, H, W) in Caffe order, a mean file, a number subtracted
            from every channel (Res3D-18's 128), or None for the shipped Sports-1M mean
            (see ``c3d.video.mean``).
        resize_hw: what frames are resized to before cropping; default C3D's ratio.
        crops: the views ``views`` gives of a clip: 1 (the centre crop) or 10
            (torchvision's ``TenCrop``, see the module docstring).
        step: a clip takes every ``step``-th video frame; it spans ``frames * step``
            video frames (``span``), what clip starts and ``--stride`` count in.
    """

    def __init__(
        self,
        frames=CLIP_LENGTH,
        height=CROP_SIZE,
        width=CROP_SIZE,
        mean=None,
        resize_hw=None,
        crops=1,
        step=1,
    ):
        self.frames, self.height, self.width = int(frames), int(height), int(width)
        if min(self.frames, self.height, self.width) < 1:
            raise ValueError(f"clip shape must be positive. Received: {self.shape}")
        if isinstance(step, bool) or int(step) != step or step < 1:
            raise ValueError(f"step must be a positive integer. Received: step={step!r}")
        self.step = int(step)
        if crops not in CROPS:
            raise ValueError(f"crops must be 1 (centre) or 10 (TenCrop). Received: {crops!r}")
        self.n_views = int(crops)
        if resize_hw is None:
            resize_hw = (
                round(self.height * RESIZE_HW[0] / CROP_SIZE),
                round(self.width * RESIZE_HW[1] / CROP_SIZE),
            )
        self.resize_hw = tuple(int(s) for s in resize_hw)
        if self.resize_hw[0] < self.height or self.resize_hw[1] < self.width:
            raise ValueError(f"cannot crop {self.height}x{self.width} from {self.resize_hw}")
        self._mean_source = os.fspath(mean) if isinstance(mean, (str, os.PathLike)) else None
        self.mean_value = None
        if isinstance(mean, (int, float, np.number)) and not isinstance(mean, bool):
            self.mean_value = float(mean)  # one value for every pixel and channel
            # at C3D's 128x171, the size _fit_mean scales a cube from
            mean = np.full((3, self.frames, *RESIZE_HW), self.mean_value, np.float32)
        self.mean_cube = load_mean(mean)  # as given: (3, L, H, W), what outputs record
        try:
            self._mean, self._mean_offset = _fit_mean(self.mean_cube, self.frames, self.resize_hw)
        except ValueError as exc:
            raise self._mean_error(exc) from None
        self._centre_mean = self.mean_at(self.center_offsets())
        # (offsets, flip) of each view, and the mean under its crop, mirrored with it
        self._views = self.view_offsets()
        self._view_means = np.stack(
            [self.mean_at(o)[:, :, ::-1] if f else self.mean_at(o) for o, f in self._views]
        )
        self._view_means.setflags(write=False)

    @classmethod
    def from_input_shape(cls, input_shape, mean=None, crops=1, step=1):
        """(T, H, W) or (T, H, W, 3) -> ClipFormat."""
        return cls(*tuple(input_shape)[:3], mean=mean, crops=crops, step=step)

    @classmethod
    def for_model(cls, model="c3d", mean=None, crops=1, input_shape=None):
        """The clips of a ``--model`` (``c3d.model.architectures``): its shape, step and mean.

        ``mean`` None takes the model's own (C3D: the Sports-1M cube, Res3D-18: 128).
        """
        from c3d.model.architectures import architecture

        arch = architecture(model)
        shape = arch.input_shape if input_shape is None else input_shape
        mean = arch.mean_value if mean is None else mean
        return cls.from_input_shape(shape, mean=mean, crops=crops, step=arch.frame_step)

    @property
    def crops(self):
        """The views of a clip (1 or 10): the name ``crops=`` and outputs use; ``n_views``."""
        return self.n_views

    @property
    def shape(self):
        return (self.frames, self.height, self.width)

    @property
    def span(self):
        """Video frames a clip spans: 16 for C3D (16 x 1) and Res3D-18 (8 x 2)."""
        return self.frames * self.step

    def cutter(self, stride, **where):
        """A ``ClipCutter`` of this format's clips: ``span`` frames sampled every ``step``."""
        return ClipCutter(stride, self.span, step=self.step, **where)

    @property
    def input_shape(self):
        return (*self.shape, 3)

    def __repr__(self):
        views = "" if self.n_views == 1 else f", crops={self.n_views}"
        step = "" if self.step == 1 else f", step={self.step}"
        return f"ClipFormat{self.shape}{step}{views}"

    def resize(self, frame):
        """One BGR uint8 frame resized to ``resize_hw`` (bilinear, still uint8, like Caffe)."""
        return resize_frame(frame, self.resize_hw)

    def center_offsets(self):
        """Top-left of the centre crop: integer halves of the margins (Caffe's test phase)."""
        rows, cols = self.resize_hw
        return (rows - self.height) // 2, (cols - self.width) // 2

    def ten_crop_offsets(self):
        """Top-left corners of torchvision's ``five_crop``, in its order: tl, tr, bl, br, centre.

        The centre is torchvision's ``int(round(margin / 2.0))`` (halves to even: 29.5 -> 30).
        """
        rows, cols = self.resize_hw[0] - self.height, self.resize_hw[1] - self.width
        return [(0, 0), (0, cols), (rows, 0), (rows, cols), (round(rows / 2), round(cols / 2))]

    def view_offsets(self):
        """[(offsets, flip)] of the views, in order, as ``normalize`` takes them.

        One crop: the centre (Caffe's). Ten: ``TenCrop``'s five crops of (frame - mean),
        then its five crops of the flipped (frame - mean) at the same positions; the crop
        at (r, c) of the flipped frame is the mirrored crop at (r, W - w - c).
        """
        if self.n_views == 1:
            return [(self.center_offsets(), False)]
        cols = self.resize_hw[1] - self.width
        five = self.ten_crop_offsets()
        return [(o, False) for o in five] + [((top, cols - left), True) for top, left in five]

    def random_offsets(self, rng):
        """Top-left of a uniformly random crop (Caffe's training phase)."""
        rows, cols = self.resize_hw
        return (
            int(rng.integers(0, rows - self.height + 1)),
            int(rng.integers(0, cols - self.width + 1)),
        )

    @property
    def mean(self):
        """The fitted (T, rows, cols, 3) float32 mean, centred on the resized frame.

        For the shipped mean it is exactly the size of the resized frame.
        """
        return self._mean

    @property
    def view_means(self):
        """(V, T, H, W, 3) float32: the mean under each view's crop, mirrored with mirrored
        views. The one definition both subtractions read: the CPU's
        (``subtract_view_means``) and the inference graph's
        (``c3d.model.preprocessor.ViewMeanSubtraction``)."""
        return self._view_means

    def _mean_error(self, problem):
        return C3DError(f"{self._mean_source}: {problem}" if self._mean_source else str(problem))

    def mean_at(self, offsets):
        """(T, H, W, 3) float32: the mean under a crop whose top-left is ``offsets``."""
        top, left = offsets[0] - self._mean_offset[0], offsets[1] - self._mean_offset[1]
        rows, cols = self._mean.shape[1:3]
        if top < 0 or left < 0 or top + self.height > rows or left + self.width > cols:
            raise self._mean_error(
                f"a {rows}x{cols} mean cube centred on {self.resize_hw[0]}x{self.resize_hw[1]} "
                f"frames does not cover the {self.height}x{self.width} crop at {tuple(offsets)}"
            )
        return self._mean[:, top : top + self.height, left : left + self.width, :]

    def normalize(self, resized_clip, offsets=None, flip=False):
        """Mean-subtract and crop a resized (T, rh, rw, 3) clip -> (T, H, W, 3) float32.

        ``offsets`` default to the centre crop. ``flip`` mirrors the result left-right after
        the subtraction, as Caffe's data layer does (the mean is taken unmirrored).
        The same as ``subtract_mean(crop(resized_clip, offsets), offsets, flip)``.
        """
        return self.subtract_mean(self.crop(resized_clip, offsets), offsets, flip)

    def crop(self, resized_clip, offsets=None):
        """The (T, H, W, 3) crop of a resized clip at ``offsets`` (default centre), its dtype kept.

        A uint8 crop is a quarter of the float32 clip it becomes: what travels between
        processes, the mean being subtracted where the batch is made.
        """
        top, left = self.center_offsets() if offsets is None else offsets
        return resized_clip[:, top : top + self.height, left : left + self.width, :]

    def subtract_mean(self, crop, offsets=None, flip=False):
        """A crop taken at ``offsets`` (default centre) minus the mean there -> float32."""
        mean = self._centre_mean if offsets is None else self.mean_at(offsets)
        clip = crop.astype(np.float32) - mean
        if flip:
            clip = clip[:, :, ::-1, :]
        return np.ascontiguousarray(clip)

    def view_crops(self, resized_clip):
        """The views of a resized (T, rh, rw, 3) clip, still uint8: (V, T, H, W, 3).

        View v is the crop at ``view_offsets()[v]``, mirrored where that view is. What
        travels from the decoders to the model (a quarter of float32 clips' bytes); the
        mean is subtracted where the batch is made (``subtract_view_means``).
        """
        out = np.empty((len(self._views), *self.input_shape), resized_clip.dtype)
        for view, ((top, left), flip) in zip(out, self._views, strict=True):
            crop = resized_clip[:, top : top + self.height, left : left + self.width, :]
            view[...] = crop[:, :, ::-1, :] if flip else crop
        return out

    def frame_views(self, resized_frame):
        """The V views of one resized (rh, rw, 3) frame: numpy views into it, no copy.

        The decoders take these as each frame is resized; a clip's view is then written
        once, straight into its batch row (``c3d.pipeline.messages.Clip.view``), the
        same pixels as ``view_crops`` gives.
        """
        return tuple(
            resized_frame[top : top + self.height, left : left + self.width][
                :, :: -1 if flip else 1
            ]
            for (top, left), flip in self._views
        )

    def subtract_view_means(self, crops, views, out=None):
        """The first N rows of view ``crops`` minus the mean of each one's view -> float32.

        ``views`` (N,) says which view each row is. A mirrored view's mean is mirrored
        with it: (frame - mean) mirrored is the mirrored frame minus the mirrored mean,
        the same float32 subtraction of the same values, element by element.
        ``out`` (at least N rows, float32) receives the result; rows past N are left.
        """
        count = len(views)
        if out is None:
            out = np.empty((count, *self.input_shape), np.float32)
        for row in range(count):
            np.subtract(crops[row], self._view_means[views[row]], out=out[row], dtype=np.float32)
        return out

    def views(self, resized_clip):
        """The views of a resized (T, rh, rw, 3) clip: (V, T, H, W, 3) float32, V = ``n_views``.

        Each is ``normalize(resized_clip, offsets, flip)`` for ``view_offsets()``.
        """
        crops = self.view_crops(resized_clip)
        return self.subtract_view_means(crops, range(len(crops)))


def _fit_mean(cube, frames, resize_hw):
    """A (3, L, Hm, Wm) cube as (T, rows, cols, 3) for frames resized to ``resize_hw``.

    Returns it with its offset on the resized frame (centre-aligned).
    """
    mean = np.asarray(cube, dtype=np.float32).transpose(1, 2, 3, 0)  # -> (L, Hm, Wm, C)
    if mean.shape[0] < frames:
        raise ValueError(f"mean cube has {mean.shape[0]} frames, clips have {frames}")
    if mean.shape[0] != frames:
        picks = np.round(np.linspace(0, mean.shape[0] - 1, frames)).astype(int)
        mean = mean[picks]
    scale = (resize_hw[0] / RESIZE_HW[0], resize_hw[1] / RESIZE_HW[1])
    if scale != (1.0, 1.0):
        size = (round(mean.shape[1] * scale[0]), round(mean.shape[2] * scale[1]))
        mean = np.stack([resize_frame(frame, size) for frame in mean])
    mean = np.ascontiguousarray(mean, dtype=np.float32)
    mean.setflags(write=False)
    offset = ((resize_hw[0] - mean.shape[1]) // 2, (resize_hw[1] - mean.shape[2]) // 2)
    return mean, offset


@functools.lru_cache(maxsize=8)
def _shipped_mean_format(frames, crop_size):
    return ClipFormat(frames, crop_size, crop_size, resize_hw=RESIZE_HW)


def preprocess_input(frames, mean=None, crop_size=CROP_SIZE):
    """Turn raw BGR frames into C3D input, exactly as the original Caffe C3D did.

    Args:
        frames: a clip (16, H, W, 3) or a batch of clips (N, 16, H, W, 3) of BGR frames
            of any size, uint8 as OpenCV decodes them (float 0-255 is accepted too).
        mean: a mean cube (3, 16, H', W') in Caffe (C, L, H, W) order, BGR, or a mean file;
            default the shipped Sports-1M mean.
        crop_size: side of the centre crop, taken from frames resized to 128x171.

    Returns:
        float32 array (…, 16, crop_size, crop_size, 3), BGR, mean subtracted.
    """
    frames = np.asarray(frames)
    if frames.ndim == 5:
        return np.stack([preprocess_input(clip, mean, crop_size) for clip in frames])
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"expected frames of shape (L, H, W, 3) or (N, L, H, W, 3). Received: {frames.shape}"
        )
    if mean is None:
        clip_format = _shipped_mean_format(len(frames), crop_size)
    else:
        clip_format = ClipFormat(len(frames), crop_size, crop_size, mean, resize_hw=RESIZE_HW)
    return clip_format.normalize(np.stack([clip_format.resize(frame) for frame in frames]))
