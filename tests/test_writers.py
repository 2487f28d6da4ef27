"""Outputs: the arrays of a video, atomic npz files, the HDF5 store (index + shards), claims."""

import contextlib
import json
import os
import subprocess
import sys
import threading

import h5py
import numpy as np
import pytest

from c3d.errors import C3DError
from c3d.extraction import h5store
from c3d.extraction.claims import Claims
from c3d.extraction.h5store import H5Writer, group_keys, read_h5_video
from c3d.extraction.writers import (
    ARRAY_NAMES,
    NpzWriter,
    feature_arrays,
    npz_settings,
    read_npz,
)

SETTINGS = {"layer": "fc6", "stride": 8}


def arrays(seed, n_clips=3):
    rng = np.random.default_rng(seed)
    clips = rng.uniform(0, 5, (n_clips, 16)).astype(np.float32)
    return feature_arrays(clips, np.arange(n_clips) * 8, 25.0, 8 * n_clips + 8, False)


def assert_same(a, b):
    assert sorted(a) == sorted(b) == sorted(ARRAY_NAMES)
    for name in a:
        assert np.array_equal(a[name], b[name]), name
        assert np.asarray(a[name]).dtype == np.asarray(b[name]).dtype, name


def h5_contents(path):
    return {key: read_h5_video(path, key) for key in group_keys(path)}


def dead_pid():
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_video_is_the_l2_normalised_mean_of_the_clips():
    out = arrays(0, n_clips=5)
    mean = out["clips"].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(out["video"], mean / np.linalg.norm(mean), rtol=1e-6)
    assert abs(np.linalg.norm(out["video"].astype(np.float64)) - 1) < 1e-6
    assert out["clips"].dtype == np.float32 and out["video"].dtype == np.float32
    assert out["starts"].dtype == np.int64 and out["padded"].dtype == np.bool_
    zeros = feature_arrays(np.zeros((2, 4), np.float32), [0, 8], 25.0, 24, False)
    assert not np.any(zeros["video"])  # nothing to normalise: stays zero, no NaN


def test_npz_outputs_mirror_keys_and_record_their_settings(tmp_path):
    writer = NpzWriter(tmp_path / "out")
    writer.prepare()
    path = writer.write("a/clip.mp4", arrays(1), SETTINGS)
    assert path == str(tmp_path / "out" / "a" / "clip.mp4.npz")
    assert writer.exists("a/clip.mp4") and not writer.exists("b/clip.mp4")
    assert_same(read_npz(path), arrays(1))
    with np.load(path) as data:  # readers written for the old files see the same arrays
        assert json.loads(str(data["provenance"])) == SETTINGS
        np.testing.assert_array_equal(data["clips"], arrays(1)["clips"])
    old = writer.write("old.mp4", arrays(2))  # as written before settings were recorded
    assert npz_settings(old) == {}
    assert writer.recorded(["a/clip.mp4", "old.mp4", "missing.mp4"]) == {
        "a/clip.mp4": SETTINGS,
        "old.mp4": {},
    }


def test_temporaries_of_killed_runs_are_removed(tmp_path):
    folder = tmp_path / "out" / "a"
    folder.mkdir(parents=True)
    stale = folder / f".tmp-{dead_pid()}-00ff.clip.mp4.npz"
    live = folder / f".tmp-{os.getpid()}-00ff.other.mp4.npz"
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    NpzWriter(tmp_path / "out").prepare()
    assert not stale.exists() and live.exists()


def test_unwritable_outputs_fail_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(C3DError, match="exists and is not a folder"):
        NpzWriter(tmp_path / "file")
    with pytest.raises(C3DError, match="cannot write features there"):
        NpzWriter(tmp_path / "file" / "below").prepare()
    with pytest.raises(C3DError, match="is a folder"):
        H5Writer(tmp_path)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(C3DError, match="not a readable HDF5 file"):
        H5Writer(tmp_path / "text.h5").prepare()


def test_h5_videos_are_staged_then_packed_into_a_shard_and_an_index(tmp_path):
    h5_path = tmp_path / "features.h5"
    writer = H5Writer(h5_path)
    writer.prepare()
    writer.write("a/clip.mp4", arrays(1), SETTINGS)
    writer.write("b/clip.mp4", arrays(2), SETTINGS)
    assert not h5_path.exists()  # nothing in the file until the packing
    writer.close()
    contents = h5_contents(h5_path)
    assert sorted(contents) == ["a/clip.mp4", "b/clip.mp4"]
    assert_same(contents["a/clip.mp4"], arrays(1))
    with h5py.File(h5_path) as f:  # the index holds links; settings sit on each group
        assert isinstance(f.get("a/clip.mp4", getlink=True), h5py.ExternalLink)
        assert json.loads(f["a/clip.mp4"].attrs["provenance"]) == SETTINGS
    assert len(os.listdir(tmp_path / "features.h5.c3d" / "shards")) == 1
    assert not os.listdir(tmp_path / "features.h5.c3d" / "staging")

    # a run killed before its packing: the file is untouched, the video staged
    writer = H5Writer(h5_path)
    writer.prepare()
    assert writer.exists("a/clip.mp4") and not writer.exists("c.avi")
    before = h5_path.read_bytes()
    writer.write("c.avi", arrays(3), SETTINGS)
    assert writer.exists("c.avi") and writer.recorded(["c.avi"]) == {"c.avi": SETTINGS}
    assert h5_path.read_bytes() == before

    # the next run packs it first, into a second shard: the first one is not rewritten
    first_shard = os.listdir(tmp_path / "features.h5.c3d" / "shards")[0]
    first_bytes = (tmp_path / "features.h5.c3d" / "shards" / first_shard).read_bytes()
    H5Writer(h5_path).prepare()
    contents = h5_contents(h5_path)
    assert sorted(contents) == ["a/clip.mp4", "b/clip.mp4", "c.avi"]
    assert_same(contents["c.avi"], arrays(3))
    assert_same(contents["b/clip.mp4"], arrays(2))
    shards = sorted(os.listdir(tmp_path / "features.h5.c3d" / "shards"))
    assert len(shards) == 2 and first_shard in shards
    assert (tmp_path / "features.h5.c3d" / "shards" / first_shard).read_bytes() == first_bytes


def test_the_index_reads_from_any_working_directory(tmp_path, monkeypatch):
    writer = H5Writer(tmp_path / "out" / "f.h5")
    writer.prepare()
    writer.write("x.avi", arrays(4))
    writer.close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with h5py.File(os.path.join("..", "out", "f.h5")) as f:
        np.testing.assert_array_equal(f["x.avi/clips"][()], arrays(4)["clips"])


def test_packing_a_video_twice_is_harmless(tmp_path):
    """A kill after the new index was renamed in but before the staged files were deleted."""
    h5_path = tmp_path / "f.h5"
    writer = H5Writer(h5_path)
    writer.prepare()
    writer.write("x.avi", arrays(1))
    writer.close()
    staged = H5Writer(h5_path)
    staged.prepare()
    staged.write("x.avi", arrays(1))  # as if left behind
    H5Writer(h5_path).prepare()
    contents = h5_contents(h5_path)
    assert list(contents) == ["x.avi"]
    assert_same(contents["x.avi"], arrays(1))
    # the first shard is no longer referred to, and is removed
    assert len(os.listdir(tmp_path / "f.h5.c3d" / "shards")) == 1


def reopened_with_one_video(h5_path, key):
    """(a new run's prepared writer, the file's bytes) after one run wrote ``key`` to it."""
    writer = H5Writer(h5_path)
    writer.prepare()
    writer.write(key, arrays(1))
    writer.close()
    before = h5_path.read_bytes()
    writer = H5Writer(h5_path)
    writer.prepare()
    return writer, before


def test_a_kill_during_packing_leaves_the_old_index_and_the_staged_videos(tmp_path, monkeypatch):
    h5_path = tmp_path / "f.h5"
    writer, before = reopened_with_one_video(h5_path, "x.avi")
    writer.write("y.avi", arrays(2))
    real_copy = h5store._copy_index

    def killed(*args):
        real_copy(*args)
        raise KeyboardInterrupt  # after the shard was written, before the index is renamed

    monkeypatch.setattr(h5store, "_copy_index", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.close()
    monkeypatch.undo()
    assert h5_path.read_bytes() == before
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")] == []
    assert len(os.listdir(tmp_path / "f.h5.c3d" / "shards")) == 2  # one orphan
    H5Writer(h5_path).prepare()
    assert sorted(h5_contents(h5_path)) == ["x.avi", "y.avi"]
    assert len(os.listdir(tmp_path / "f.h5.c3d" / "shards")) == 2  # orphan gone, new one in


def test_other_data_in_the_file_and_a_symlinked_output_are_kept(tmp_path):
    real = tmp_path / "data" / "real.h5"
    real.parent.mkdir()
    with h5py.File(real, "w") as f:
        f.attrs["dataset"] = "ucf-crime"
        f["labels"] = np.arange(5)
        f.create_group("meta").attrs["note"] = "mine"
        f["meta/split"] = np.array([b"train", b"test"])
    os.chmod(real, 0o640)
    link = tmp_path / "features.h5"
    link.symlink_to(real)
    for key in ("a.avi", "meta/b.avi"):
        writer = H5Writer(link)
        writer.prepare()
        writer.write(key, arrays(len(key)))
        writer.close()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert oct(os.stat(real).st_mode & 0o777) == "0o640"
    with h5py.File(link) as f:
        assert f.attrs["dataset"] == "ucf-crime" and f["labels"][()].tolist() == [0, 1, 2, 3, 4]
        assert f["meta"].attrs["note"] == "mine" and f["meta/split"][()].tolist() == [
            b"train",
            b"test",
        ]
    assert sorted(group_keys(link)) == ["a.avi", "meta/b.avi"]
    assert (tmp_path / "data" / "real.h5.c3d" / "shards").is_dir()  # beside the real file


def test_files_of_earlier_versions_are_moved_into_a_shard_once(tmp_path):
    h5_path = tmp_path / "old.h5"
    with h5py.File(h5_path, "w") as f:  # the layout c3d wrote before 1.1
        for key, seed in (("a/x.avi", 1), ("y.avi", 2)):
            group = f.create_group(key)
            for name, value in arrays(seed).items():
                group.create_dataset(name, data=value)
        f.attrs["owner"] = "me"
    writer = H5Writer(h5_path)
    writer.prepare()
    assert writer.recorded(["a/x.avi", "z.avi"]) == {"a/x.avi": {}}
    writer.write("z.avi", arrays(3), SETTINGS)
    writer.close()
    contents = h5_contents(h5_path)
    assert sorted(contents) == ["a/x.avi", "y.avi", "z.avi"]
    assert_same(contents["a/x.avi"], arrays(1))
    with h5py.File(h5_path) as f:
        assert f.attrs["owner"] == "me"
        assert isinstance(f.get("y.avi", getlink=True), h5py.ExternalLink)


def test_keys_that_cannot_sit_side_by_side_are_found_before_any_work(tmp_path):
    h5_path = tmp_path / "f.h5"
    with h5py.File(h5_path, "w") as f:
        f["labels"] = np.arange(3)
    writer = H5Writer(h5_path)
    writer.prepare()
    writer.write("a.mp4", arrays(1))
    writer.close()
    writer = H5Writer(h5_path)
    writer.prepare()
    clashes = writer.clashes(["a.mp4/b.mp4", "c/d.avi", "c", "labels", "labels/x.avi", "e.avi"])
    assert clashes == {
        "a.mp4/b.mp4": "the video 'a.mp4'",
        "c/d.avi": "the video 'c'",
        "c": "the video 'c/d.avi'",
        "labels": "other data at 'labels'",
        "labels/x.avi": "other data at 'labels'",
    }
    writer.write("e.avi", arrays(2))  # the file keeps working
    writer.close()
    assert sorted(group_keys(h5_path)) == ["a.mp4", "e.avi"]


def test_a_full_disk_is_one_error_and_loses_nothing(small_disk):
    h5_path = small_disk / "f.h5"
    writer, before = reopened_with_one_video(h5_path, "a.avi")
    big = feature_arrays(np.ones((40, 4096), np.float32), np.arange(40), 25.0, 400, False)
    with pytest.raises((C3DError, OSError)):
        writer.write("b.avi", big)  # 650 kB staged, then not enough room for its shard
        writer.close()
    assert h5_path.read_bytes() == before
    assert sorted(group_keys(h5_path)) == ["a.avi"]
    with pytest.raises(C3DError, match="not enough free space|No space left"):
        H5Writer(h5_path).prepare()  # every later run says so, in one line


def test_claims_split_work_and_stale_claims_are_taken_over(tmp_path):
    folder = tmp_path / "claims"
    mine, other = Claims(folder), Claims(folder)
    assert mine.acquire("a/x.mp4")
    assert not other.acquire("a/x.mp4")  # held by a live process (this one)
    claim = folder / "a" / "x.mp4.claim"
    holder = json.loads(claim.read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == mine.host
    mine.release("a/x.mp4")
    assert other.acquire("a/x.mp4")
    other.release_all()
    # a claim of a dead process on this host is taken over; another host's is respected
    (folder / "dead.claim").write_text(json.dumps({"host": mine.host, "pid": dead_pid()}))
    (folder / "far.claim").write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    assert mine.acquire("dead") and not mine.acquire("far")
    # a pid reused by another process does not keep a claim alive
    # (a claim of this version: one of older c3d, start in /proc ticks, goes by its pid alone)
    reused = {"host": mine.host, "pid": os.getpid(), "start": holder["start"] - 1, "run": "x"}
    (folder / "reused.claim").write_text(json.dumps(reused))
    assert mine.acquire("reused")


def test_only_one_of_many_takes_over_a_stale_claim(tmp_path):
    folder = tmp_path / "claims"
    folder.mkdir()
    stale = {"host": Claims(folder).host, "pid": dead_pid()}
    for round_ in range(20):
        (folder / f"v{round_}.claim").write_text(json.dumps(stale))
        won = []

        def take(claims, key=f"v{round_}", won=won):
            won.append(claims.acquire(key))

        threads = [threading.Thread(target=take, args=(Claims(folder),)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert won.count(True) == 1, round_


def test_the_files_left_by_a_run_are_only_ours(tmp_path):
    """Nothing but the index, its folder and the claims' folder appears beside the output."""
    writer = H5Writer(tmp_path / "f.h5")
    writer.prepare()
    claims = Claims(writer.claims_folder)
    assert claims.acquire("x.avi")
    writer.write("x.avi", arrays(1))
    claims.release_all()
    writer.close()
    assert sorted(os.listdir(tmp_path)) == ["f.h5", "f.h5.c3d"]
    with contextlib.suppress(FileNotFoundError):
        assert not [p for p in os.listdir(writer.claims_folder) if p.endswith(".claim")]
