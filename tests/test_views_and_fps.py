"""Ten crops (``ClipFormat(crops=10)``, ``--crops 10``) and resampling (``--fps``).

The ten crops are checked against torchvision's ``TenCrop(112)`` rule written here from its
source (``five_crop``: tl (0, 0), tr (0, W - w), bl (H - h, 0), br (H - h, W - w), centre
``int(round((H - h) / 2.0))``, ``int(round((W - w) / 2.0))``; ``ten_crop``: the five of the
image, then the five of ``hflip(image)``), applied to (frame - mean) at full size, on frames
whose every pixel tells its position. The resampling is checked against the nearest-timestamp
rule computed by brute force in exact fractions.
"""

import fractions

import numpy as np
import pytest
from video_helpers import decode_all, make_video

from c3d.video.clip_format import ClipFormat
from c3d.video.resample import Resampler
from c3d.video.stream import run_videos

H, W, T = 128, 171, 16


def positional_clip():
    """(16, 128, 171, 3) uint8: channel 0 = row, 1 = column (mod 256), 2 = 10 t + row % 7."""
    t, r, c = np.meshgrid(np.arange(T), np.arange(H), np.arange(W), indexing="ij")
    return np.stack([r, c % 256, (10 * t + r % 7) % 256], axis=-1).astype(np.uint8)


def positional_mean():
    """A (3, 16, 128, 171) Caffe-order mean that varies with position (so where it is
    subtracted matters): 0.25 row + 0.5 column + channel + t / 8."""
    c, t, r, col = np.meshgrid(
        np.arange(3), np.arange(T), np.arange(H), np.arange(W), indexing="ij"
    )
    return (0.25 * r + 0.5 * col + c + t / 8).astype(np.float32)


def ten_crop_reference(image, size=112):
    """torchvision.transforms.functional.ten_crop(image, size), vflip=False, on (..., H, W, C)."""

    def crop(img, top, left):
        return img[..., top : top + size, left : left + size, :]

    def five_crop(img):
        image_height, image_width = img.shape[-3], img.shape[-2]
        crop_top = int(round((image_height - size) / 2.0))
        crop_left = int(round((image_width - size) / 2.0))
        return [
            crop(img, 0, 0),
            crop(img, 0, image_width - size),
            crop(img, image_height - size, 0),
            crop(img, image_height - size, image_width - size),
            crop(img, crop_top, crop_left),
        ]

    return five_crop(image) + five_crop(image[..., ::-1, :])  # hflip: the width axis


def test_ten_crops_are_torchvision_tencrop_of_frame_minus_mean():
    clip, cube = positional_clip(), positional_mean()
    views = ClipFormat(mean=cube, crops=10).views(clip)
    assert views.shape == (10, T, 112, 112, 3) and views.dtype == np.float32

    minus_mean = clip.astype(np.float64) - cube.transpose(1, 2, 3, 0)  # at full size
    want = ten_crop_reference(minus_mean)
    for i in range(10):
        np.testing.assert_allclose(views[i], want[i], atol=1e-4, err_msg=f"view {i}")

    # the positions, read back from the pixels (row, column of the top-left output pixel)
    raw = ClipFormat(mean=np.zeros_like(cube), crops=10).views(clip)
    corners = [(int(v[0, 0, 0, 0]), int(v[0, 0, 0, 1])) for v in raw]
    assert corners[:5] == [(0, 0), (0, 59), (16, 0), (16, 59), (8, 30)]
    # flipped: the top-left output pixel is the right-most column of each crop of the frame
    assert corners[5:] == [(0, 170), (0, 111), (16, 170), (16, 111), (8, 140)]
    # the centre of TenCrop rounds 29.5 up to 30; Caffe's centre crop stays at (8, 29)
    (centre,) = ClipFormat(mean=np.zeros_like(cube)).views(clip)
    assert (int(centre[0, 0, 0, 0]), int(centre[0, 0, 0, 1])) == (8, 29)
    # negative control: the flip is of (frame - mean), not (flipped frame) - mean
    wrong = clip[:, 8:120, 140 - 111 : 141, :][:, :, ::-1].astype(np.float64)
    wrong -= cube.transpose(1, 2, 3, 0)[:, 8:120, 30:142]
    assert not np.allclose(views[9], wrong, atol=1e-2)


def signature(batch):
    """A fake model: a few numbers that identify each row's pixels."""
    b = batch.reshape(len(batch), -1).astype(np.float64)
    return np.stack([b.mean(axis=1), b[:, 0], b[:, 12345], b[:, -1], b.std(axis=1)], axis=1)


@pytest.mark.parametrize("batch_size", [7, 20])
def test_the_stream_returns_each_clips_ten_views_in_order(tmp_path, batch_size):
    path = make_video(tmp_path / "v.avi", 40, seed=3)
    clip_format = ClipFormat(crops=10)
    (result,) = run_videos(
        [path], signature, stride=8, batch_size=batch_size, clip_format=clip_format
    )
    frames = np.stack([clip_format.resize(f) for f in decode_all(path)])
    starts = [0, 8, 16, 24]
    assert result.outputs.shape == (4, 10, 5) and list(result.starts) == starts
    for n, start in enumerate(starts):
        want = signature(clip_format.views(frames[start : start + 16]))
        np.testing.assert_allclose(result.outputs[n], want, rtol=1e-5)


def nearest_reference(n_source, source_fps, fps):
    """Source index of each resampled frame: the frame nearest in time (ties: the later),
    for as long as the nearest frame of an endless source lies in the video."""
    src, dst = fractions.Fraction(source_fps), fractions.Fraction(fps)
    picks, j = [], 0
    while True:
        t = j / dst
        best = min(range(int(t * src) - 1, int(t * src) + 3), key=lambda k: (abs(k / src - t), -k))
        if best >= n_source:
            return picks
        picks.append(max(best, 0))
        j += 1


@pytest.mark.parametrize(
    "source_fps,fps",
    [(30, 10), (25, 30), (fractions.Fraction(30000, 1001), 25), (25, 50), (24, 24)],
)
def test_resampling_takes_the_frame_nearest_in_time(source_fps, fps):
    n = 301
    resampler = Resampler(float(source_fps), float(fps))
    got = list(resampler.frames(iter(range(n))))
    assert got == nearest_reference(n, source_fps, fps)
    assert resampler.source_frames == n and resampler.frames_out == len(got)


def test_the_stream_cuts_clips_from_resampled_frames(tmp_path):
    path = make_video(tmp_path / "v.avi", 40, seed=5)  # 25 fps
    (result,) = run_videos([path], signature, stride=16, batch_size=4, fps=50, decoders=1)
    picks = nearest_reference(40, 25, 50)
    assert result.fps == 50 and result.source_fps == 25 and result.n_frames == len(picks)
    clip_format = ClipFormat()
    frames = np.stack([clip_format.resize(f) for f in decode_all(path)])[picks]
    starts = list(range(0, len(picks) - 15, 16))
    assert list(result.starts) == starts
    want = signature(np.stack([clip_format.normalize(frames[s : s + 16]) for s in starts]))
    np.testing.assert_allclose(result.outputs, want, rtol=1e-5)


def test_ten_crops_of_a_video_cut_into_parts_are_those_of_one_decoder(tmp_path, monkeypatch):
    from c3d.video import segments

    monkeypatch.setattr(segments, "MIN_PART_FRAMES", 48)
    path = make_video(tmp_path / "long.avi", 150, seed=6)
    clip_format = ClipFormat(crops=10)
    runs = [
        run_videos([path], signature, stride=16, batch_size=7, clip_format=clip_format, decoders=d)
        for d in (1, 3)
    ]
    (one,), (cut,) = (list(r) for r in runs)
    assert one.outputs.shape == (9, 10, 5)
    np.testing.assert_array_equal(cut.starts, one.starts)
    np.testing.assert_array_equal(cut.outputs, one.outputs)
