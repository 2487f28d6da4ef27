"""The Ray engine's assembly, without Ray: a video's part files (some repeated, as a redone
batch writes them, in any grouping) give the file the local engine writes for the same
rows, each row once; a lost row is a failure, never a short file."""

import os

import numpy as np

from c3d.extraction import provenance
from c3d.extraction.engines.ray import assemble, part_folder, part_name
from c3d.extraction.writers import PROVENANCE, NpzWriter
from c3d.pipeline.messages import VideoDone
from c3d.video.inputs import VideoInput


def npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def reference_arrays(clips, starts, fps, n_frames, padded):
    """The published rule: ``video`` is the L2-normalised mean of every row's features."""
    mean = clips.reshape(-1, clips.shape[-1]).astype(np.float64).mean(axis=0)
    return {
        "clips": clips,
        "video": (mean / np.linalg.norm(mean)).astype(np.float32),
        "starts": np.asarray(starts, np.int64),
        "fps": np.float64(fps),
        "n_frames": np.int64(n_frames),
        "padded": np.bool_(padded),
    }


def write_part(folder, starts, views, outputs):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, part_name(starts, views))
    np.savez(path, starts=np.asarray(starts), views=np.asarray(views), outputs=outputs)


def test_parts_redone_in_other_batches_are_assembled_once(tmp_path):
    root = tmp_path / "ray-parts" / "run"
    folder = part_folder(str(root), "a/b/clip.mp4")
    views = 2  # two views a clip: rows are (start, view)
    clips = np.random.default_rng(0).standard_normal((7, views, 6)).astype(np.float32)
    starts = np.arange(7) * 8
    places = [(c, v) for c in range(7) for v in range(views)]
    # batches as a first attempt wrote them, then a retry batched differently
    for rows in ([0, 1], [2, 3, 5], [4, 6, 7], [8, 9, 10, 11, 12, 13], [1, 2], [0, 13]):
        picked = [places[r] for r in rows]
        write_part(
            folder,
            [starts[c] for c, _ in picked],
            [v for _, v in picked],
            np.stack([clips[c, v] for c, v in picked]),
        )
    open(os.path.join(folder, ".tmp-0-x.npz"), "wb").close()  # a killed writer's
    write_part(part_folder(str(root), "a/other.mp4"), [0], [0], clips[0, :1])
    writer = NpzWriter(tmp_path / "out")
    video = VideoInput(str(tmp_path / "clip.mp4"), "a/b/clip.mp4")
    done = VideoDone(0, 7, 30.0, 60, False)
    settings = {"layer": "fc6", "stride": 8}
    outcome = assemble(folder, video, done, views, writer, settings)
    assert outcome.ok, outcome
    got = npz(writer.path_for(video.key))
    expected = reference_arrays(clips, starts, 30.0, 60, False)
    assert sorted(got) == sorted([*expected, PROVENANCE])
    for name in expected:
        assert np.array_equal(got[name], expected[name]) or name == "video", name
    np.testing.assert_allclose(got["video"], expected["video"], rtol=1e-6)
    assert provenance.from_json(str(got[PROVENANCE]), "x") == settings
    assert not os.path.exists(folder) and not os.path.exists(root / "a" / "b")
    assert os.path.exists(part_folder(str(root), "a/other.mp4"))  # another video's parts stay


def test_a_lost_row_is_a_failure_not_a_short_file(tmp_path):
    folder = part_folder(str(tmp_path / "ray-parts" / "run"), "clip.mp4")
    write_part(folder, [0, 8], [0, 0], np.ones((2, 4), np.float32))
    writer = NpzWriter(tmp_path / "out")
    video = VideoInput(str(tmp_path / "clip.mp4"), "clip.mp4")
    outcome = assemble(folder, video, VideoDone(0, 3, 25.0, 32, False), 1, writer, None)
    assert not outcome.ok and not outcome.fatal
    assert outcome.reason == f"{video.path}: the Ray cluster lost some of its clips' features"
    assert not os.path.exists(writer.path_for("clip.mp4")) and os.path.isdir(folder)
