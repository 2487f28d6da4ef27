"""The Ray engine's assembly, without Ray: a video's part files (some repeated, as a redone
batch writes them) streamed into the npz the local engine writes for the same clips."""

import os

import numpy as np

from c3d.extraction import provenance
from c3d.extraction.ray_engine import assemble, part_folder, part_name
from c3d.extraction.writers import (
    PROVENANCE,
    feature_arrays,
    write_npz,
    write_npz_streamed,
)


def npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def clips_of(n, d=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def reference_arrays(clips, starts, fps, n_frames, padded):
    """The published rule: ``video`` is the L2-normalised mean of the clips' features."""
    mean = clips.astype(np.float64).mean(axis=0)
    return {
        "clips": clips,
        "video": (mean / np.linalg.norm(mean)).astype(np.float32),
        "starts": np.asarray(starts, np.int64),
        "fps": np.float64(fps),
        "n_frames": np.int64(n_frames),
        "padded": np.bool_(padded),
    }


def test_streamed_npz_equals_the_whole_video_npz(tmp_path):
    clips, starts = clips_of(37, d=4096), np.arange(37) * 16
    settings = {"layer": "fc6", "stride": 16}
    rows = zip(starts, clips, strict=True)
    write_npz_streamed(tmp_path / "s.npz", rows, 37, (4096,), 25.0, 600, False, settings)
    expected = reference_arrays(clips, starts, 25.0, 600, False)
    local = feature_arrays(clips, starts, 25.0, 600, False)  # what the local engine writes
    write_npz(tmp_path / "w.npz", local, settings)
    got, whole = npz(tmp_path / "s.npz"), npz(tmp_path / "w.npz")
    assert sorted(got) == sorted(whole) == sorted([*expected, PROVENANCE])
    for name in expected:  # bit for bit
        assert got[name].dtype == whole[name].dtype and np.array_equal(got[name], whole[name])
        assert got[name].shape == np.shape(expected[name]), name
    np.testing.assert_allclose(got["video"], expected["video"], rtol=1e-6)
    assert provenance.from_json(str(got[PROVENANCE]), "s") == settings


def write_part(folder, starts, clips):
    os.makedirs(folder, exist_ok=True)
    np.savez(os.path.join(folder, part_name(starts)), starts=np.asarray(starts), clips=clips)


def test_parts_redone_in_other_batches_are_assembled_once(tmp_path):
    root = tmp_path / "ray-parts"
    folder = part_folder(str(root), "a/b/clip.mp4")
    clips = clips_of(7)
    starts = np.arange(7) * 8
    # batches as a first attempt wrote them, then a retry batched differently
    for rows in ([0, 1], [2, 3, 5], [4, 6], [1, 2], [3], [0, 1, 2, 3, 4, 5, 6], [0, 6]):
        write_part(folder, starts[rows], clips[rows])
    open(os.path.join(folder, ".tmp-0-000000000000-x.npz"), "wb").close()  # a killed writer's
    write_part(part_folder(str(root), "a/other.mp4"), starts[:1], clips[:1])
    out = tmp_path / "out.npz"
    assert assemble(folder, str(out), 7, 30.0, 60, False, None) is None
    got = npz(out)
    expected = reference_arrays(clips, starts, 30.0, 60, False)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert np.array_equal(got[name], expected[name]) or name == "video", name
    np.testing.assert_allclose(got["video"], expected["video"], rtol=1e-6)
    assert not os.path.exists(folder) and not os.path.exists(root / "a" / "b")
    assert os.listdir(root / "a") == ["other.mp4.parts"]  # another video's parts stay
    # a retried assembly of a video already written does nothing
    assert assemble(folder, str(out), 7, 30.0, 60, False, None) is None
