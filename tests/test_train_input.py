"""Clip geometry, clip sampling and the tf.data input of ``c3d train`` (no training here)."""

import logging

import numpy as np
import pytest
from synthetic_actions import action_frames, write_video

from c3d.clip_format import ClipFormat, middle_clip_start
from c3d.clips import clip_starts
from c3d.datasets import VideoSet
from c3d.evaluation import decode_resized, video_clips
from c3d.preprocessing import mean_clip, normalize_clip, resize_frame
from c3d.resources import sports1m_mean_cube
from c3d.train_input import ClipReader, batches_per_epoch, make_dataset
from c3d.video import iter_frames, open_video
from conftest import BASEBALL_VIDEO


@pytest.fixture(scope="module")
def baseball_frames():
    return list(iter_frames(open_video(BASEBALL_VIDEO)))


def test_standard_format_is_caffe_preprocessing(baseball_frames):
    clip_format = ClipFormat(16, 112, 112)
    assert clip_format.resize_hw == (128, 171)
    assert clip_format.center_offsets() == (8, 29)
    resized = np.stack([resize_frame(f) for f in baseball_frames[:16]])
    expected = normalize_clip(resized, mean_clip(sports1m_mean_cube(), 16, 112))
    np.testing.assert_array_equal(clip_format.normalize(resized), expected)


def test_small_format_scales_resize_and_mean():
    clip_format = ClipFormat(8, 32, 32)
    assert clip_format.resize_hw == (37, 49)  # 32 * 128/112, 32 * 171/112, rounded
    mean = clip_format.mean
    assert mean.shape == (8, 37, 49, 3)
    cube = sports1m_mean_cube().transpose(1, 2, 3, 0)
    # Sampled in time at frames 0 … 15, each resized like a video frame.
    np.testing.assert_allclose(mean[0], resize_frame(cube[0], (37, 49)), rtol=1e-6)
    np.testing.assert_allclose(mean[-1], resize_frame(cube[15], (37, 49)), rtol=1e-6)
    assert abs(float(mean.mean()) - float(cube.mean())) < 1.0


def test_random_crop_and_flip():
    clip_format = ClipFormat(8, 32, 32)
    rng = np.random.default_rng(0)
    offsets = {clip_format.random_offsets(rng) for _ in range(300)}
    assert {top for top, _ in offsets} == set(range(37 - 32 + 1))
    assert {left for _, left in offsets} == set(range(49 - 32 + 1))
    resized = rng.integers(0, 256, (8, 37, 49, 3), dtype=np.uint8)
    plain = clip_format.normalize(resized, (2, 7))
    np.testing.assert_array_equal(
        clip_format.normalize(resized, (2, 7), flip=True), plain[:, :, ::-1]
    )
    expected = resized[:, 2:34, 7:39].astype(np.float32) - clip_format.mean[:, 2:34, 7:39]
    np.testing.assert_array_equal(plain, expected)


def test_reader_counts_frames_and_samples_windows(baseball_frames):
    clip_format = ClipFormat(16, 112, 112)
    reader = ClipReader(clip_format)
    assert reader.frame_count(str(BASEBALL_VIDEO)) == len(baseball_frames) == 107
    window = reader.read_window(str(BASEBALL_VIDEO), 90)
    np.testing.assert_array_equal(window[0], clip_format.resize(baseball_frames[90]))
    np.testing.assert_array_equal(window[-1], clip_format.resize(baseball_frames[105]))
    first = reader.training_clip(str(BASEBALL_VIDEO), seed=7)
    assert first.shape == (16, 112, 112, 3) and first.dtype == np.float32
    np.testing.assert_array_equal(reader.training_clip(str(BASEBALL_VIDEO), seed=7), first)
    others = [reader.training_clip(str(BASEBALL_VIDEO), seed=s) for s in range(3)]
    assert not all(np.array_equal(first, other) for other in others)


def test_validation_clip_is_the_evaluated_middle_clip(baseball_frames):
    """Per-epoch validation scores one of the clips ``c3d evaluate`` scores, normalised alike."""
    clip_format = ClipFormat(16, 112, 112)
    starts = clip_starts(107, stride=8, length=16)
    assert starts == list(range(0, 92, 8))
    start = middle_clip_start(107, 16)
    assert start == starts[len(starts) // 2] == 48
    clips = list(video_clips(decode_resized(str(BASEBALL_VIDEO), clip_format), clip_format))
    assert len(clips) == len(starts)
    validation = ClipReader(clip_format).validation_clip(str(BASEBALL_VIDEO))
    np.testing.assert_array_equal(validation, clips[starts.index(start)])


def test_short_video_padded_with_its_last_frame(tmp_path):
    path = tmp_path / "short.avi"
    write_video(path, action_frames("up", np.random.default_rng(0), 5))
    clip_format = ClipFormat(8, 32, 32)
    reader = ClipReader(clip_format)
    window = reader.read_window(str(path), 0)
    assert window.shape == (8, 37, 49, 3)
    for index in range(5, 8):
        np.testing.assert_array_equal(window[index], window[4])
    assert not np.array_equal(window[3], window[4])
    [evaluated] = list(video_clips(decode_resized(str(path), clip_format), clip_format))
    np.testing.assert_array_equal(evaluated, clip_format.normalize(window))


def test_undecodable_video_is_skipped_warned_once_and_counted(tmp_path, caplog):
    good = tmp_path / "good.avi"
    write_video(good, action_frames("down", np.random.default_rng(1), 12))
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage, not a video" * 20)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    videos = VideoSet(
        [str(good), str(broken), str(empty), str(truncated)], [0, 1, 1, 1], ["a", "b"]
    )
    reader = ClipReader(ClipFormat(8, 32, 32))
    dataset = make_dataset(videos, reader, batch_size=8, training=True, seed=0, workers=2)
    with caplog.at_level(logging.WARNING, logger="c3d.train_input"):
        for _ in range(2):  # two epochs: each bad file warned about once
            batches = list(dataset.take(1))
            assert [tuple(clips.shape) for clips, _ in batches] == [(1, 8, 32, 32, 3)]
            assert batches[0][1].numpy().tolist() == [0]
    assert len(reader.failures) == 3
    warnings = [r.getMessage() for r in caplog.records if "cannot be decoded" in r.getMessage()]
    assert len(warnings) == 3
    assert any(str(truncated) in w and "truncated" in w for w in warnings)
    assert any(str(empty) in w and "empty" in w for w in warnings)
    assert any(str(broken) in w for w in warnings)


def test_dataset_batches_and_labels(tmp_path):
    rng = np.random.default_rng(2)
    paths = []
    for index in range(5):
        paths.append(str(tmp_path / f"v{index}.avi"))
        write_video(paths[-1], action_frames("left", rng, 10 + index))
    videos = VideoSet(paths, [0, 1, 0, 1, 1], ["a", "b"])
    reader = ClipReader(ClipFormat(8, 32, 32))
    train = list(make_dataset(videos, reader, batch_size=2, training=True, seed=3).take(6))
    assert batches_per_epoch(5, 2) == 2  # the partial batch is dropped …
    assert [len(labels) for _, labels in train] == [2] * 6  # … in every pass: endless
    # Every pass draws new clips (windows, crops) from the per-video seeds.
    assert not np.array_equal(train[0][0].numpy(), train[2][0].numpy())
    val = list(make_dataset(videos, reader, batch_size=2, training=False))
    assert len(val) == batches_per_epoch(5, 2, training=False) == 3
    assert np.concatenate([labels.numpy() for _, labels in val]).tolist() == [0, 1, 0, 1, 1]
    expected = np.stack([reader.validation_clip(p) for p in paths])
    np.testing.assert_array_equal(np.concatenate([clips.numpy() for clips, _ in val]), expected)
