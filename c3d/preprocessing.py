"""Caffe-exact C3D preprocessing: resize to 128x171, subtract the mean cube, centre crop.

The original C3D (Caffe fork, v1.0) read frames with OpenCV as uint8 BGR, resized them
with ``cv::resize`` (bilinear) while still uint8, then subtracted a float mean cube
indexed at the *uncropped* position and cropped the centre 112x112 (test phase:
offsets (128-112)//2 = 8 and (171-112)//2 = 29). Cropping the frames and the mean
alike before subtracting gives the same numbers with less work, which is what we do.
"""

import functools

import cv2
import numpy as np

from c3d.resources import sports1m_mean_cube

RESIZE_HW = (128, 171)
CROP_SIZE = 112
CLIP_LENGTH = 16


def resize_frame(frame, size_hw=RESIZE_HW):
    """Resize one H x W x 3 frame like the original (bilinear, in the frame's own dtype)."""
    height, width = size_hw
    if frame.shape[:2] == (height, width):
        return frame
    # INTER_LINEAR is what cv::resize defaults to in Caffe; INTER_AREA would differ
    # numerically (and is ~20x slower).
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)


def center_crop_offsets(size_hw, crop_size=CROP_SIZE):
    """Caffe's test-phase crop offsets: integer halves of the margins."""
    height, width = size_hw
    if height < crop_size or width < crop_size:
        raise ValueError(f"cannot crop {crop_size}x{crop_size} from {height}x{width}")
    return (height - crop_size) // 2, (width - crop_size) // 2


def center_crop(array, crop_size=CROP_SIZE):
    """Centre crop the last-but-one two axes (…, H, W, C) of an array."""
    top, left = center_crop_offsets(array.shape[-3:-1], crop_size)
    return array[..., top : top + crop_size, left : left + crop_size, :]


def mean_clip(mean_cube, clip_length=CLIP_LENGTH, crop_size=CROP_SIZE):
    """A (C, L, H, W) Caffe mean cube as the (L, crop, crop, C) float32 block a clip needs.

    A mean of another spatial size than 128x171 (the C3D v1.0 fork also shipped 128x128
    means) is centre-cropped the same way, i.e. aligned on the clip's centre.
    """
    mean = np.asarray(mean_cube, dtype=np.float32)
    if mean.ndim != 4 or mean.shape[0] != 3:
        raise ValueError(f"mean cube must be (3, L, H, W) in Caffe order, got shape {mean.shape}")
    if mean.shape[1] != clip_length:
        raise ValueError(f"mean cube has {mean.shape[1]} frames, clips have {clip_length}")
    block = center_crop(mean.transpose(1, 2, 3, 0), crop_size)
    return np.ascontiguousarray(block)


@functools.lru_cache(maxsize=4)
def _default_mean_clip(clip_length, crop_size):
    block = mean_clip(sports1m_mean_cube(), clip_length, crop_size)
    block.setflags(write=False)
    return block


def normalize_clip(resized_clip, mean_block):
    """Centre crop a resized (L, 128, 171, 3) clip and subtract the matching mean block."""
    crop_size = mean_block.shape[1]
    return center_crop(resized_clip, crop_size).astype(np.float32) - mean_block


def preprocess_input(frames, mean=None, crop_size=CROP_SIZE):
    """Turn raw BGR frames into C3D input, exactly as the original Caffe C3D did.

    Args:
        frames: a clip (16, H, W, 3) or a batch of clips (N, 16, H, W, 3) of BGR frames
            of any size, uint8 as OpenCV decodes them (float 0-255 is accepted too).
        mean: a mean cube (3, 16, H', W') in Caffe (C, L, H, W) order, BGR; default the
            shipped Sports-1M mean.
        crop_size: side of the centre crop.

    Returns:
        float32 array (…, 16, crop_size, crop_size, 3), BGR, mean subtracted.
    """
    frames = np.asarray(frames)
    if frames.ndim == 5:
        return np.stack([preprocess_input(clip, mean, crop_size) for clip in frames])
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"expected frames of shape (L, H, W, 3) or (N, L, H, W, 3), got {frames.shape}"
        )
    if mean is None:
        mean_block = _default_mean_clip(frames.shape[0], crop_size)
    else:
        mean_block = mean_clip(mean, frames.shape[0], crop_size)
    resized = np.stack([resize_frame(frame) for frame in frames])
    return normalize_clip(resized, mean_block)
