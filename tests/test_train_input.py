"""Clip geometry, clip sampling, the tf.data input and the validation of ``c3d train``."""

import logging

import keras
import numpy as np
import pytest
from synthetic_actions import action_frames, write_video

from c3d.model.builder import C3D_BN
from c3d.training.callbacks import StreamValidation
from c3d.training.datasets import VideoSet
from c3d.training.input import ClipReader, batches_per_epoch, make_dataset
from c3d.video.clip_format import ClipFormat, resize_frame
from c3d.video.clips import clip_starts, middle_clip_start
from c3d.video.decode import iter_frames, open_video
from c3d.video.mean import sports1m_mean_cube
from c3d.video.stream import run_videos
from conftest import BASEBALL_VIDEO


@pytest.fixture(scope="module")
def baseball_frames():
    return list(iter_frames(open_video(BASEBALL_VIDEO)))


def flattened(batch):
    """A stand-in model that returns its input clips: the stream's clips, row by row."""
    return np.asarray(batch).reshape(len(batch), -1)


def test_standard_format_is_caffe_preprocessing(baseball_frames):
    clip_format = ClipFormat(16, 112, 112)
    assert clip_format.resize_hw == (128, 171)
    assert clip_format.center_offsets() == (8, 29)
    resized = np.stack([resize_frame(f) for f in baseball_frames[:16]])
    mean = sports1m_mean_cube()[:, :, 8:120, 29:141].transpose(1, 2, 3, 0)
    expected = resized[:, 8:120, 29:141].astype(np.float32) - mean
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


def test_selected_clips_are_those_of_the_full_stream(baseball_frames):
    """Validation's middle clip is one of the clips ``c3d evaluate`` scores, normalised alike."""
    starts = clip_starts(107, stride=8, length=16)
    assert starts == list(range(0, 92, 8))
    start = middle_clip_start(107, 16)
    assert start == starts[len(starts) // 2] == 48
    [full] = run_videos([str(BASEBALL_VIDEO)], flattened, batch_size=4)
    [middle] = run_videos([str(BASEBALL_VIDEO)], flattened, batch_size=4, select=lambda _: [48])
    assert full.starts.tolist() == starts and middle.starts.tolist() == [48]
    np.testing.assert_array_equal(middle.outputs[0], full.outputs[starts.index(48)])
    # Decoding stopped after the selected clip's last frame.
    assert middle.n_frames == 48 + 16 and full.n_frames == 107


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
    [streamed] = run_videos([str(path)], flattened, clip_format=clip_format, batch_size=2)
    assert streamed.padded and streamed.starts.tolist() == [0]
    np.testing.assert_array_equal(streamed.outputs[0], clip_format.normalize(window).ravel())


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
    dataset = make_dataset(videos, reader, batch_size=8, seed=0, workers=2)
    with caplog.at_level(logging.WARNING, logger="c3d.training.datasets"):
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
    train = list(make_dataset(videos, reader, batch_size=2, seed=3).take(6))
    assert batches_per_epoch(5, 2) == 2  # the partial batch is dropped …
    assert [len(labels) for _, labels in train] == [2] * 6  # … in every pass: endless
    # Every pass draws new clips (windows, crops) from the per-video seeds.
    assert not np.array_equal(train[0][0].numpy(), train[2][0].numpy())


def test_validation_scores_the_middle_clip_of_each_video(tmp_path):
    rng = np.random.default_rng(4)
    paths = []
    for index, frames in enumerate((30, 9, 45)):
        paths.append(str(tmp_path / f"v{index}.avi"))
        write_video(paths[-1], action_frames("right", rng, frames))
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    videos = VideoSet([*paths, str(broken)], [0, 1, 1, 0], ["a", "b"])
    clip_format = ClipFormat(8, 32, 32)
    reader = ClipReader(clip_format)
    keras.utils.set_random_seed(5)
    model = C3D_BN(num_classes=2, input_shape=clip_format.input_shape)
    validation = StreamValidation(videos, reader, batch_size=2)
    validation.set_model(model)
    logs = {}
    validation.on_epoch_end(0, logs)

    # By hand: the middle stride-8 clip of each decodable video, centre crop.
    clips = []
    for path, frames in zip(paths, (30, 9, 45), strict=True):
        start = clip_starts(frames, 8, 8)[len(clip_starts(frames, 8, 8)) // 2]
        clips.append(clip_format.normalize(reader.read_window(path, start)))
    probabilities = np.asarray(model.predict_on_batch(np.stack(clips)), np.float64)
    labels = np.array([0, 1, 1])
    want_loss = -np.log(probabilities[np.arange(3), labels]).mean()
    want_accuracy = (probabilities.argmax(axis=1) == labels).mean()
    assert logs["val_loss"] == pytest.approx(want_loss, rel=1e-4)
    assert logs["val_accuracy"] == pytest.approx(want_accuracy)
    assert list(reader.failures.reasons) == [str(broken)]
