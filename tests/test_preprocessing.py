"""Caffe-exact preprocessing checked by hand on real frames, and the shipped package data."""

import cv2
import numpy as np
import pytest

from c3d.errors import C3DError
from c3d.model.labels import sports1m_labels
from c3d.video.clip_format import ClipFormat, preprocess_input
from c3d.video.mean import sports1m_mean_cube
from conftest import BASEBALL_VIDEO


@pytest.fixture(scope="module")
def raw_frames():
    capture = cv2.VideoCapture(str(BASEBALL_VIDEO))
    frames = []
    while len(frames) < 16:
        ok, frame = capture.read()
        assert ok
        frames.append(frame)
    capture.release()
    return np.stack(frames)


def bilinear_by_hand(image, out_h, out_w):
    """Half-pixel-centred bilinear resampling written out in float64 (OpenCV's convention)."""
    in_h, in_w = image.shape[:2]
    ys = np.clip((np.arange(out_h) + 0.5) * in_h / out_h - 0.5, 0, in_h - 1)
    xs = np.clip((np.arange(out_w) + 0.5) * in_w / out_w - 0.5, 0, in_w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, in_h - 1), np.minimum(x0 + 1, in_w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def test_shipped_mean_cube_is_caffe_ordered_bgr():
    mean = sports1m_mean_cube()
    assert mean.shape == (3, 16, 128, 171) and mean.dtype == np.float32
    np.testing.assert_allclose(mean.mean(axis=(1, 2, 3)), [90.25, 97.66, 101.41], atol=0.01)


def test_shipped_labels():
    labels = sports1m_labels()
    assert len(labels) == 487
    assert labels[367] == "basketball" and labels[375] == "baseball"


def test_preprocess_input_matches_a_hand_computation_on_a_real_video(raw_frames):
    assert raw_frames.shape == (16, 240, 320, 3) and raw_frames.dtype == np.uint8
    clip = preprocess_input(raw_frames)
    assert clip.shape == (16, 112, 112, 3) and clip.dtype == np.float32

    mean = sports1m_mean_cube()
    top, left = (128 - 112) // 2, (171 - 112) // 2
    assert (top, left) == (8, 29)
    for t in (0, 7, 15):
        resized = bilinear_by_hand(raw_frames[t], 128, 171)  # H x W x BGR
        # Caffe: mean indexed at the uncropped position, channels kept in BGR order.
        expected = resized[top : top + 112, left : left + 112, :] - mean[
            :, t, top : top + 112, left : left + 112
        ].transpose(1, 2, 0)
        # The original resizes the uint8 frame, so values are rounded to integers (and
        # OpenCV's fixed-point weights add at most one more unit).
        np.testing.assert_allclose(clip[t], expected, atol=1.0)
        assert np.abs(clip[t] - expected).mean() < 0.3

    # One pixel fully by hand: frame 0, crop (0, 0) is resized pixel (8, 29), blue channel.
    y, x = (8 + 0.5) * 240 / 128 - 0.5, (29 + 0.5) * 320 / 171 - 0.5
    y0, x0 = int(y), int(x)
    wy, wx = y - y0, x - x0
    p = raw_frames[0, :, :, 0].astype(float)
    blue = (p[y0, x0] * (1 - wx) + p[y0, x0 + 1] * wx) * (1 - wy) + (
        p[y0 + 1, x0] * (1 - wx) + p[y0 + 1, x0 + 1] * wx
    ) * wy
    assert abs(clip[0, 0, 0, 0] - (blue - mean[0, 0, 8, 29])) <= 1.0


def test_batches_and_float_frames_give_the_same_result(raw_frames):
    clip = preprocess_input(raw_frames)
    batch = preprocess_input(np.stack([raw_frames, raw_frames[::-1]]))
    assert batch.shape == (2, 16, 112, 112, 3)
    np.testing.assert_array_equal(batch[0], clip)
    # Frames already at 128x171 are not resized again.
    resized = np.stack(
        [cv2.resize(f, (171, 128), interpolation=cv2.INTER_LINEAR) for f in raw_frames]
    )
    np.testing.assert_array_equal(preprocess_input(resized), clip)


def test_a_custom_mean_is_centre_cropped_like_the_frames(raw_frames):
    flat = np.full((3, 16, 128, 128), 100.0, np.float32)
    flat[0, :, 8:120, 8:120] = 50.0  # the centre the 112 crop of a 128x128 mean sees
    clip_format = ClipFormat(mean=flat)
    block = clip_format.mean_at(clip_format.center_offsets())
    assert block.shape == (16, 112, 112, 3)
    np.testing.assert_array_equal(block[..., 0], 50.0)
    clip = preprocess_input(raw_frames, mean=flat)
    np.testing.assert_allclose(
        clip[..., 1],
        preprocess_input(raw_frames)[..., 1] + (sports1m_mean_cube()[1, :, 8:120, 29:141] - 100.0),
        atol=1e-4,
    )


def test_shorter_clips_take_evenly_spaced_mean_frames(raw_frames):
    clip = preprocess_input(raw_frames[:8])
    picks = np.round(np.linspace(0, 15, 8)).astype(int)
    assert picks.tolist() == [0, 2, 4, 6, 9, 11, 13, 15]
    mean = sports1m_mean_cube()[:, :, 8:120, 29:141].transpose(1, 2, 3, 0)
    full = preprocess_input(raw_frames)  # frame t minus mean frame t
    np.testing.assert_allclose(clip, full[:8] + mean[:8] - mean[picks], atol=1e-3)


def test_bad_shapes_are_refused(raw_frames):
    with pytest.raises(ValueError, match=r"\(L, H, W, 3\)"):
        preprocess_input(raw_frames[..., :2])
    with pytest.raises(C3DError, match="mean cube has 8 frames, clips have 16"):
        preprocess_input(raw_frames, mean=np.zeros((3, 8, 128, 171), np.float32))
    with pytest.raises(C3DError, match="100x100 mean cube .* does not cover the 112x112 crop"):
        preprocess_input(raw_frames, mean=np.zeros((3, 16, 100, 100), np.float32))
