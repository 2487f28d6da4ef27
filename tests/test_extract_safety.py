"""``c3d extract`` at dataset scale: settings never mix, files are never clobbered, every bad
case is one line on stderr with a non-zero exit and nothing half-written (issue 11)."""

import json
import shutil
import subprocess

import h5py
import numpy as np
import pytest
from converter_helpers import assert_one_line_error, run_c3d
from video_helpers import make_video

from c3d.cli import main
from c3d.errors import C3DError
from c3d.extraction.h5store import group_keys, read_h5_video
from c3d.extraction.writers import read_npz
from c3d.video.mean import sports1m_mean_cube
from conftest import BASEBALL_VIDEO, DATA, FB_MEAN_BINARYPROTO, mounted_tmpfs


def extract(*args):
    """``c3d extract ARGS`` in this process (no TensorFlow start-up per run)."""
    return main(["extract", *map(str, args)])


def npz_outputs(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.npz")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory, sport1m_weights):
    """Two short videos extracted at fc6, stride 8, into OUT/ (npz)."""
    root = tmp_path_factory.mktemp("safety")
    make_video(root / "videos" / "a.avi", 20, seed=1)
    make_video(root / "videos" / "b.avi", 24, seed=2)
    out = root / "out"
    result = run_c3d("extract", root / "videos", "-o", out, "--weights", sport1m_weights)
    assert result.returncode == 0, result.stderr
    return root, out


@pytest.fixture(scope="module")
def other_files(tmp_path_factory, sport1m_weights):
    folder = tmp_path_factory.mktemp("other")
    weights = folder / "other.weights.h5"
    shutil.copy(sport1m_weights, weights)
    with open(weights, "ab") as f:  # other bytes, another sha256
        f.write(b"\0")
    mean = folder / "mean.npy"
    np.save(mean, sports1m_mean_cube() + 1)
    return {"weights": weights, "mean": mean}


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--stride", "4", "--stride 8, this run has 4"),
        ("--layer", "fc7", "--layer fc6, this run has fc7"),
        ("--precision", "bf16", "--precision fp32, this run has bf16"),
        ("--weights", "weights", "--weights c3d_random.weights.h5"),
        ("--mean", "mean", "--mean sports1m (shipped)"),
    ],
)
def test_other_settings_stop_the_run_naming_the_first_difference(
    finished, other_files, sport1m_weights, option, value, named, capsys
):
    """In this process (the subprocess path of one-line errors: test_cli_basics.py)."""
    root, out = finished
    before = npz_outputs(out)
    args = [root / "videos", "-o", out, "--weights", sport1m_weights]
    code = extract(*args, option, other_files.get(value, value))
    result = subprocess.CompletedProcess([], code, "", capsys.readouterr().err)
    assert_one_line_error(result, f"{out}: a.avi: made with {named}", "--overwrite")
    assert npz_outputs(out) == before


def test_each_output_records_its_settings(finished, sport1m_weights):
    _, out = finished
    with np.load(out / "a.avi.npz") as data:
        recorded = json.loads(str(data["provenance"]))
    assert recorded["layer"] == "fc6" and recorded["stride"] == 8 and recorded["crops"] == 1
    assert recorded["precision"] == "fp32" and recorded["input_shape"] == [16, 112, 112, 3]
    assert recorded["weights"] == "c3d_random.weights.h5"
    assert len(recorded["weights_sha256"]) == 64 and recorded["mean"] == "sports1m (shipped)"
    assert recorded["c3d_version"]


def test_overwrite_redoes_outputs_made_with_other_settings(tmp_path, finished, sport1m_weights):
    root, done = finished
    out = tmp_path / "out"
    shutil.copytree(done, out)
    args = [root / "videos", "-o", out, "--weights", sport1m_weights, "--stride", "4"]
    assert extract(*args, "--overwrite") == 0
    assert read_npz(out / "a.avi.npz")["starts"].tolist() == [0, 4]
    with np.load(out / "b.avi.npz") as data:
        assert json.loads(str(data["provenance"]))["stride"] == 4


def test_outputs_written_before_settings_were_recorded_are_said_to_be_unchecked(
    tmp_path, finished, sport1m_weights, capsys
):
    root, out_done = finished
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.avi", "b.avi"):  # as c3d < 1.1 wrote them: no provenance entry
        np.savez(out / f"{name}.npz", **read_npz(out_done / f"{name}.npz"))
    assert extract(root / "videos", "-o", out, "--weights", sport1m_weights) == 0
    assert "2 of them record no settings" in capsys.readouterr().err


def test_an_existing_h5_keeps_its_other_data(tmp_path, finished, sport1m_weights):
    root, _ = finished
    h5_file = tmp_path / "mine.h5"
    with h5py.File(h5_file, "w") as f:
        f.attrs["owner"] = "lab"
        f["labels"] = np.array([0, 1, 1])
        f.create_group("meta").attrs["split"] = "train"
    args = [root / "videos", "-o", h5_file, "--format", "h5", "--weights", sport1m_weights]
    assert extract(*args) == 0
    with h5py.File(h5_file) as f:
        assert f.attrs["owner"] == "lab" and f["labels"][()].tolist() == [0, 1, 1]
        assert f["meta"].attrs["split"] == "train"
        assert json.loads(f["a.avi"].attrs["provenance"])["layer"] == "fc6"
    assert group_keys(h5_file) == ["a.avi", "b.avi"]


def test_a_key_clash_is_a_failure_and_the_file_keeps_working(tmp_path, sport1m_weights, capsys):
    make_video(tmp_path / "one" / "a.mp4", 16, seed=3)
    make_video(tmp_path / "two" / "a.mp4" / "x.avi", 16, seed=4)  # a folder named like a video
    make_video(tmp_path / "two" / "c.avi", 16, seed=5)
    h5_file = tmp_path / "f.h5"
    common = ["-o", h5_file, "--format", "h5", "--weights", sport1m_weights]
    assert extract(tmp_path / "one", *common) == 0
    assert extract(tmp_path / "two", *common) == 1
    err = capsys.readouterr().err
    assert "a.mp4/x.avi: its output 'a.mp4/x.avi' cannot sit beside the video 'a.mp4'" in err
    assert "done 1, skipped 0, failed 1" in err
    assert group_keys(h5_file) == ["a.mp4", "c.avi"]
    assert read_h5_video(h5_file, "c.avi")["clips"].shape == (1, 4096)


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 256 kB file system: 9 clips of pool5 features (32 kB each) do not fit."""
    yield from mounted_tmpfs(tmp_path / "tiny", "size=256k", "a small tmpfs")


@pytest.mark.parametrize(("fmt", "runs"), [("h5", 2), ("npz", 1)])
def test_a_full_disk_is_one_line_not_a_crash(tmp_path, tiny_disk, sport1m_weights, fmt, runs):
    video = make_video(tmp_path / "v.avi", 24, seed=6)
    output = tiny_disk / ("f.h5" if fmt == "h5" else "out")
    args = ["extract", video, "-o", output, "--format", fmt, "--layer", "pool5", "--stride", "1"]
    args += ["--weights", sport1m_weights]
    for _ in range(runs):  # h5 used to crash every later run at start-up: it says so again
        result = run_c3d(*args)
        assert result.returncode == 1, result.stderr  # not 139: no segfault
        assert_one_line_error(result, "No space left on device")
    leftovers = [p.name for p in tiny_disk.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_an_unwritable_output_fails_before_the_model_runs(read_only_disk, monkeypatch, capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("c3d.model.loader.load_model", no_model)
    for fmt in ("npz", "h5"):
        out = read_only_disk / ("features.h5" if fmt == "h5" else "out")
        args = ["extract", str(DATA), "-o", str(out), "--format", fmt]
        code = main([*args, "--weights", str(FB_MEAN_BINARYPROTO)])  # any file: never loaded
        assert code == 1
        assert "Read-only file system" in capsys.readouterr().err


@pytest.mark.parametrize("shape", ["1,1,1", "0,112,112", "16,-112,112", "16,112"])
def test_summary_refuses_impossible_input_shapes_in_one_line(shape):
    result = run_c3d("summary", f"--input-shape={shape}")
    assert_one_line_error(result, "--input-shape")


def test_the_api_takes_the_clip_shape_of_the_model_it_is_given():
    import keras

    import c3d

    keras.utils.set_random_seed(2)
    small = c3d.C3D_model(input_shape=(8, 32, 32, 3), num_classes=3)
    features = c3d.extract_features(BASEBALL_VIDEO, model=small)
    assert features["clips"].shape == (len(range(0, 107 - 7, 8)), 4096)
    flat = keras.Sequential([keras.Input((16, 112, 112)), keras.layers.Flatten()])
    with pytest.raises(C3DError, match="the model takes input of shape"):
        c3d.extract_features(BASEBALL_VIDEO, model=flat)
