"""Shared by the Ray engine's tests: ~10 short videos (bad ones too), the local engine's
outputs for them (the reference), and a thread that kills a process mid-run."""

import os
import pathlib
import threading
import time

import numpy as np
from video_helpers import make_video, truncate_copy

from c3d.cli import main
from c3d.extraction.writers import ARRAY_NAMES, PROVENANCE
from conftest import BASEBALL_VIDEO

REPO = pathlib.Path(__file__).resolve().parents[1]
GOOD = {  # key: frames. z/long.avi comes last: work is left when the first output appears
    "a/one.avi": 20,
    "a/two.mp4": 24,
    "a/short.avi": 10,  # one clip, padded
    "b/four.avi": 60,
    "b/five.avi": 33,
    "c/six.avi": 16,
    "z/long.avi": 130,
}
BAD = ("bad/zero.mp4", "bad/text.mp4", "bad/empty.avi", "bad/truncated.avi")


def runtime_env():
    """Ray workers import this checkout's c3d (not another one installed in the venv)."""
    return {"env_vars": {"PYTHONPATH": str(REPO)}}


def make_videos(root):
    for seed, (key, frames) in enumerate(GOOD.items()):
        make_video(root / key, frames, seed=seed)
    (root / "bad").mkdir()
    (root / "bad/zero.mp4").write_bytes(b"")
    (root / "bad/text.mp4").write_text("I am a text file\n" * 50)
    make_video(root / "bad/empty.avi", 0)
    truncate_copy(BASEBALL_VIDEO, root / "bad/truncated.avi", 0.1)
    return root


def extract_args(videos, out, weights, *more):
    # the missing file is a failure too, reported as the others
    missing = videos.parent / "missing.mp4"
    weights = ("--weights", weights, "--batch-size", "2", "--stride", "16")
    return ["extract", videos, missing, "-o", out, *weights, *more]


def run_extract(args, capsys):
    """(exit status, failure lines, summary lines without timings) of ``c3d extract``."""
    capsys.readouterr()
    out = pathlib.Path(args[args.index("-o") + 1])
    failures = out.parent / (out.name + ".failures")
    code = main([*map(str, args), "--failures", str(failures)])
    err = capsys.readouterr().err
    summary = [
        line.split(" (")[0] for line in err.splitlines() if line.startswith("c3d extract: done")
    ]
    return code, failures.read_text().splitlines(), summary


def summary_of(done, skipped, failed):
    return f"c3d extract: done {done}, skipped {skipped}, failed {failed}"


def expected_failures(videos):
    """Every bad video and the missing one fails, each once (whatever the engine)."""
    return sorted([str(videos / key) for key in BAD] + [str(videos.parent / "missing.mp4")])


def check_reference(reference):
    """The reference is what it should be: the good videos written, each bad one failed."""
    videos, outputs, failures, code = reference
    assert code == 1 and sorted(outputs) == sorted(GOOD)
    assert [line.split(": ")[0] for line in failures] == expected_failures(videos)
    return reference


def npz_outputs(folder):
    """{key: {name: array}} of the .npz outputs under ``folder``, provenance included."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".npz") and not name.startswith(".tmp-"):
                path = os.path.join(root, name)
                key = os.path.relpath(path, folder)[: -len(".npz")]
                if key.startswith(".c3d"):
                    continue
                with np.load(path, allow_pickle=False) as data:
                    found[key] = {n: data[n] for n in data.files}
    return found


def assert_equal_outputs(got, reference, names=(*ARRAY_NAMES, PROVENANCE)):
    """The same keys, arrays (features within 1e-6 relative) and provenance."""
    assert sorted(got) == sorted(reference)
    for key in reference:
        assert sorted(got[key]) == sorted(names), key
        for name in names:
            a, b = got[key][name], reference[key][name]
            assert a.dtype == b.dtype and a.shape == b.shape, (key, name)
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=0, err_msg=f"{key} {name}")
            else:
                assert np.array_equal(a, b), (key, name)


class KillWhenOutputAppears(threading.Thread):
    """Calls ``kill()`` once the first output is in ``folder`` (its count at that moment kept).

    ``outputs(folder)``: what counts as outputs there (default the npz files).
    """

    def __init__(self, folder, kill, timeout=240, outputs=None):
        super().__init__(daemon=True)
        self.folder, self.kill, self.timeout = folder, kill, timeout
        self.outputs = outputs or npz_outputs
        self.outputs_then = None
        self.killed = None

    def run(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = self.outputs(self.folder) if os.path.isdir(self.folder) else {}
            if found:
                self.outputs_then = len(found)
                self.killed = self.kill()
                return
            time.sleep(0.05)


# --- small videos for the layouts, and whole output trees compared ---------------------
SMALL = {"a/one.avi": 40, "b/short.avi": 10, "c/three.mp4": 33}  # frames, at 25 fps


def make_small_videos(root):
    """Three short videos (one under 16 frames) and a text file posing as a video."""
    for seed, (key, frames) in enumerate(SMALL.items()):
        make_video(root / key, frames, seed=seed)
    (root / "bad").mkdir(parents=True)
    (root / "bad/text.mp4").write_text("I am a text file\n" * 50)
    return root


def output_files(out):
    """{relative path: content} of every file a run leaves in ``out`` and ``out.c3d``:
    bytes, with ``out``'s own path replaced (lists hold absolute paths), and the datasets
    and attributes of HDF5 files read by key (their shards' names are random). Claims,
    locks and Ray's part files are not outputs."""
    import h5py

    out = pathlib.Path(out)
    found = {}
    for top in (out, pathlib.Path(str(out) + ".c3d")):
        if not top.exists():
            continue
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            rel = path.relative_to(out.parent).as_posix().replace(out.name, "OUT", 1)
            if any(part in ("claims", "ray-parts", "shards") for part in path.parts):
                continue
            if path.name.startswith((".tmp-", "lock", ".lock")):
                continue
            if path.suffix in (".h5", ".hdf5"):
                with h5py.File(path, "r") as f:
                    found[rel] = _h5_contents(f)
            else:
                found[rel] = path.read_bytes().replace(str(out).encode(), b"OUT")
    return found


def _h5_contents(group, prefix=""):
    found = {f"{prefix}@{k}": str(v) for k, v in sorted(group.attrs.items())}
    for name in sorted(group):
        item = group[name]  # follows external links, as readers' f[key] does
        if hasattr(item, "keys"):
            found.update(_h5_contents(item, f"{prefix}{name}/"))
        else:
            found[prefix + name] = (item.dtype.str, item.shape, item[()].tobytes())
            found.update({f"{prefix}{name}@{k}": str(v) for k, v in sorted(item.attrs.items())})
    return found


def files_of(folder):
    """Outputs for ``KillWhenOutputAppears``: any finished file but claims and parts."""
    return {
        str(p): None
        for p in pathlib.Path(folder).rglob("*")
        if p.is_file() and ".c3d" not in p.parts and not p.name.startswith(".tmp-")
    }
