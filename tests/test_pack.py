"""One file to share (issue 22): ``c3d pack`` turns an index of links into a plain HDF5 file
that readers walking it see whole, and an index whose shards are gone is refused."""

import os
import shutil

import h5py
import numpy as np
import pytest

from c3d.cli import main
from c3d.errors import C3DError
from c3d.extraction.h5store import H5Writer, group_keys, read_h5_video
from c3d.extraction.provenance import PROVENANCE_ATTR
from c3d.extraction.writers import feature_arrays

SETTINGS = {"layer": "fc6", "stride": 8}


def arrays(seed, clips=3):
    rng = np.random.default_rng(seed)
    features = rng.uniform(0, 5, (clips, 16)).astype(np.float32)
    return feature_arrays(features, np.arange(clips) * 8, 25.0, 8 * clips + 8, False)


def make_index(path, batches=(("a/x.mp4", "a/y.mp4"), ("b/z.avi",))):
    """An index written by H5Writer in several packings (several shards), plus data of the
    user's own: a root attribute, a group with an attribute, a dataset."""
    seed = 0
    for keys in batches:
        writer = H5Writer(path)
        writer.prepare()
        for key in keys:
            writer.write(key, arrays(seed), SETTINGS)
            seed += 1
        writer.close()
    with h5py.File(path, "a") as f:
        f.attrs["dataset"] = "mine"
        f.create_group("notes").attrs["author"] = "me"
        f["notes/table"] = np.arange(5)
    return path


def clips_groups(path):
    """{name: group's arrays and provenance} of every group holding ``clips``, found by walking
    the file with h5py's visititems (which does not follow external links)."""
    found = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and "clips" in obj:
                found[name] = (
                    {key: np.asarray(obj[key][()]) for key in obj},
                    obj.attrs.get(PROVENANCE_ATTR),
                )

        f.visititems(visit)
    return found


def test_a_packed_file_is_seen_whole_by_visititems_and_equals_the_index(tmp_path, capsys):
    index = make_index(tmp_path / "feats.h5")
    assert len(os.listdir(tmp_path / "feats.h5.c3d" / "shards")) == 2
    assert clips_groups(index) == {}  # the problem: walking the index finds no video
    packed = tmp_path / "out" / "features.h5"
    assert main(["pack", str(index), "-o", str(packed)]) == 0
    assert "3 videos of" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "feats.h5.c3d")  # self-contained: nothing beside it is read
    walked = clips_groups(packed)
    assert sorted(walked) == ["a/x.mp4", "a/y.mp4", "b/z.avi"]
    for seed, key in enumerate(sorted(walked)):
        data, recorded = walked[key]
        want = arrays(seed)
        assert sorted(data) == sorted(want)
        for name in want:
            assert np.array_equal(data[name], want[name]), (key, name)
        assert recorded is not None and '"stride": 8' in recorded
    assert group_keys(packed) == sorted(walked)  # and by key, as every reader does
    with h5py.File(packed, "r") as f:
        assert f.attrs["dataset"] == "mine"
        assert f["notes"].attrs["author"] == "me"
        assert f["notes/table"][()].tolist() == [0, 1, 2, 3, 4]
        links = []
        f.visititems_links(lambda name, link: links.append(type(link).__name__))
        assert "ExternalLink" not in links
    assert sorted(os.listdir(tmp_path / "out")) == ["features.h5"]  # no temporary left


def test_pack_refuses_an_index_whose_shard_is_gone_and_a_damaged_file(tmp_path, capsys):
    index = make_index(tmp_path / "feats.h5")
    moved = tmp_path / "elsewhere" / "feats.h5"
    moved.parent.mkdir()
    shutil.copy(index, moved)  # the index alone: its links lead nowhere
    assert main(["pack", str(moved), "-o", str(tmp_path / "p.h5")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "which is missing" in err[0] and "feats.h5.c3d/shards/" in err[0]
    assert not (tmp_path / "p.h5").exists()
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    assert main(["pack", str(tmp_path / "bad.h5"), "-o", str(tmp_path / "p.h5")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.h5: not a readable HDF5 file" in err[0]


def test_an_index_with_a_missing_shard_is_refused_before_anything_is_added(tmp_path):
    make_index(tmp_path / "feats.h5", batches=(("a.mp4",), ("b.mp4",)))
    with h5py.File(tmp_path / "feats.h5", "r") as f:
        shard = f.get("a.mp4", getlink=True).filename  # a.mp4's shard
    os.remove(tmp_path / shard)
    before = (tmp_path / "feats.h5").read_bytes()
    writer = H5Writer(tmp_path / "feats.h5")
    message = rf"videos \(e.g. 'a.mp4'\) link to the shard {shard}, which is missing"
    with pytest.raises(C3DError, match=message):
        writer.prepare()
    assert (tmp_path / "feats.h5").read_bytes() == before  # nothing added, nothing changed

    # --overwrite: the links to the lost shard go, the run redoes what it is given
    writer = H5Writer(tmp_path / "feats.h5", overwrite=True)
    writer.prepare()
    writer.write("a.mp4", arrays(9), SETTINGS)
    writer.close()
    assert group_keys(tmp_path / "feats.h5") == ["a.mp4", "b.mp4"]
    assert np.array_equal(
        read_h5_video(tmp_path / "feats.h5", "a.mp4")["clips"], arrays(9)["clips"]
    )
    H5Writer(tmp_path / "feats.h5").prepare()  # every link resolves again


def test_extract_refuses_an_index_moved_without_its_shards_in_one_line(tmp_path, capsys):
    index = make_index(tmp_path / "feats.h5", batches=(("a.mp4",),))
    moved = tmp_path / "moved.h5"
    shutil.copy(index, moved)
    shutil.rmtree(tmp_path / "feats.h5.c3d")
    video = tmp_path / "v.avi"
    video.write_bytes(b"")  # never opened: the refusal comes first
    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(b"")  # never read either
    code = main(
        ["extract", str(video), "-o", str(moved), "--format", "h5", "--weights", str(weights)]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "which is missing" in err[0] and "--overwrite" in err[0], err
