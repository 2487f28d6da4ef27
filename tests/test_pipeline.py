"""The streaming pipeline with stand-in models: exact inputs, batching, failures, shutdown."""

import threading

import numpy as np
import pytest
from video_helpers import decode_all, make_video

from c3d.video.clip_format import preprocess_input
from c3d.video.stream import run_videos
from conftest import BASEBALL_VIDEO


class Recorder:
    """A stand-in model: keeps every batch, returns a few input values per clip."""

    def __init__(self):
        self.batches = []

    def __call__(self, batch):
        self.batches.append(np.array(batch))
        return signature(batch)


def signature(batch):
    """Outputs that depend on each clip alone (as a model's must)."""
    flat = np.asarray(batch).reshape(len(batch), -1)
    return np.stack([flat[:, ::4099].sum(axis=1), flat[:, 7::5003].sum(axis=1)], axis=1)


def decoder_threads():
    """The streaming path's threads still alive (not other c3d threads, e.g. the claim
    renewal of another test's run in this process)."""
    return [t for t in threading.enumerate() if t.name.startswith("c3d-decoder") and t.is_alive()]


def test_model_inputs_are_exactly_preprocess_input_of_the_raw_frames():
    recorder = Recorder()
    (result,) = run_videos([BASEBALL_VIDEO], recorder, batch_size=5)
    assert result.ok and result.n_frames == 107 and not result.padded
    assert result.starts.tolist() == list(range(0, 89, 8))
    assert [len(b) for b in recorder.batches] == [5, 5, 5]  # 12 clips, last batch padded
    inputs = np.concatenate(recorder.batches)
    assert not np.any(inputs[12:])  # the padding clips are zeros
    frames = decode_all(BASEBALL_VIDEO)
    expected = preprocess_input(np.stack([frames[s : s + 16] for s in result.starts]))
    assert inputs.dtype == np.float32
    assert np.array_equal(inputs[:12], expected)


def test_batches_span_videos_and_each_video_gets_its_own_outputs(tmp_path):
    paths = {
        "twenty": make_video(tmp_path / "twenty.avi", 20, seed=1),
        "short": make_video(tmp_path / "short.avi", 10, seed=2),
        "forty": make_video(tmp_path / "forty.mp4", 40, seed=3),
        "missing": str(tmp_path / "missing.avi"),
    }
    (tmp_path / "text.mp4").write_text("not a video")
    paths["text"] = str(tmp_path / "text.mp4")
    recorder = Recorder()
    results = list(run_videos(list(paths.values()), recorder, batch_size=4))
    assert sorted(r.index for r in results) == [0, 1, 2, 3, 4]
    assert len(recorder.batches) == 2  # 1 + 1 + 4 clips in batches of 4
    by_path = {r.video: r for r in results}
    assert "no such file" in by_path[paths["missing"]].reason
    assert "not a video" in by_path[paths["text"]].reason
    for name, n_frames in (("twenty", 20), ("short", 10), ("forty", 40)):
        result = by_path[paths[name]]
        assert result.ok and result.n_frames == n_frames
        frames = decode_all(paths[name])
        if n_frames < 16:
            frames = np.concatenate([frames, np.repeat(frames[-1:], 16 - n_frames, axis=0)])
        clips = np.stack([frames[s : s + 16] for s in result.starts])
        assert np.array_equal(result.outputs, signature(preprocess_input(clips)))
    assert by_path[paths["short"]].padded
    assert by_path[paths["forty"]].starts.tolist() == [0, 8, 16, 24]


def test_a_model_error_stops_the_decoding_threads(tmp_path):
    path = make_video(tmp_path / "v.avi", 200, seed=4)

    def broken(batch):
        raise RuntimeError("model exploded")

    with pytest.raises(RuntimeError, match="model exploded"):
        list(run_videos([path, path], broken, batch_size=2))
    assert decoder_threads() == []


@pytest.mark.parametrize("stop", ["interrupt", "close"])
def test_ctrl_c_or_closing_early_stops_the_threads(tmp_path, stop):
    path = make_video(tmp_path / "v.avi", 300, seed=5)
    calls = []

    def model(batch):
        calls.append(1)
        if stop == "interrupt" and len(calls) == 2:
            raise KeyboardInterrupt
        return signature(batch)

    results = run_videos([path, path, path], model, batch_size=2)
    if stop == "interrupt":
        with pytest.raises(KeyboardInterrupt):
            next(results)
    else:
        assert next(results).ok
        results.close()
    assert decoder_threads() == []
