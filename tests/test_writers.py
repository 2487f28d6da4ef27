"""Outputs: the arrays of a video, atomic npz files, and the crash-safe HDF5 fold."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from c3d.extraction.writers import (
    ARRAY_NAMES,
    H5Writer,
    NpzWriter,
    feature_arrays,
    group_keys,
    read_h5_video,
    read_npz,
)


def arrays(seed, n_clips=3):
    rng = np.random.default_rng(seed)
    clips = rng.uniform(0, 5, (n_clips, 16)).astype(np.float32)
    return feature_arrays(clips, np.arange(n_clips) * 8, 25.0, 8 * n_clips + 8, False)


def assert_same(a, b):
    assert sorted(a) == sorted(b) == sorted(ARRAY_NAMES)
    for name in a:
        assert np.array_equal(a[name], b[name]), name
        assert np.asarray(a[name]).dtype == np.asarray(b[name]).dtype, name


def test_video_is_the_l2_normalised_mean_of_the_clips():
    out = arrays(0, n_clips=5)
    mean = out["clips"].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(out["video"], mean / np.linalg.norm(mean), rtol=1e-6)
    assert abs(np.linalg.norm(out["video"].astype(np.float64)) - 1) < 1e-6
    assert out["clips"].dtype == np.float32 and out["video"].dtype == np.float32
    assert out["starts"].dtype == np.int64 and out["padded"].dtype == np.bool_
    zeros = feature_arrays(np.zeros((2, 4), np.float32), [0, 8], 25.0, 24, False)
    assert not np.any(zeros["video"])  # nothing to normalise: stays zero, no NaN


def test_npz_outputs_mirror_keys(tmp_path):
    writer = NpzWriter(tmp_path / "out")
    path = writer.write("a/clip.mp4", arrays(1))
    assert path == str(tmp_path / "out" / "a" / "clip.mp4.npz")
    assert writer.exists("a/clip.mp4") and not writer.exists("b/clip.mp4")
    assert_same(read_npz(path), arrays(1))


def dead_pid():
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_temporaries_of_killed_runs_are_removed(tmp_path):
    folder = tmp_path / "out" / "a"
    folder.mkdir(parents=True)
    stale = folder / f".tmp-{dead_pid()}-00ff.clip.mp4.npz"
    live = folder / f".tmp-{os.getpid()}-00ff.other.mp4.npz"
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    NpzWriter(tmp_path / "out")
    assert not stale.exists() and live.exists()


def h5_contents(path):
    with h5py.File(path, "r") as f:
        return {key: read_h5_video(path, key) for key in group_keys(f)}


def test_h5_videos_are_staged_then_folded_atomically(tmp_path):
    h5_path = tmp_path / "features.h5"
    writer = H5Writer(h5_path)
    writer.write("a/clip.mp4", arrays(1))
    writer.write("b/clip.mp4", arrays(2))
    assert not h5_path.exists()  # nothing in the file until the fold
    writer.close()
    contents = h5_contents(h5_path)
    assert sorted(contents) == ["a/clip.mp4", "b/clip.mp4"]
    assert_same(contents["a/clip.mp4"], arrays(1))
    assert not (tmp_path / "features.h5.staging").exists()

    # a run killed before its fold: the file is untouched, the video staged
    writer = H5Writer(h5_path)
    assert writer.exists("a/clip.mp4") and not writer.exists("c.avi")
    before = h5_path.read_bytes()
    writer.write("c.avi", arrays(3))
    assert writer.exists("c.avi")
    assert h5_path.read_bytes() == before

    # the next run folds it in first
    H5Writer(h5_path)
    contents = h5_contents(h5_path)
    assert sorted(contents) == ["a/clip.mp4", "b/clip.mp4", "c.avi"]
    assert_same(contents["c.avi"], arrays(3))
    assert_same(contents["b/clip.mp4"], arrays(2))


def test_folding_a_video_twice_is_harmless(tmp_path):
    """A kill after the new file was renamed in but before the staged files were deleted."""
    h5_path = tmp_path / "f.h5"
    writer = H5Writer(h5_path)
    writer.write("x.avi", arrays(1))
    writer.close()
    staged = H5Writer(h5_path)
    staged.write("x.avi", arrays(1))  # as if left behind
    H5Writer(h5_path).close()
    contents = h5_contents(h5_path)
    assert list(contents) == ["x.avi"]
    assert_same(contents["x.avi"], arrays(1))


def test_h5_output_must_not_be_a_folder(tmp_path):
    from c3d.errors import C3DError

    with pytest.raises(C3DError, match="is a folder"):
        H5Writer(tmp_path)
