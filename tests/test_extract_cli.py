"""``c3d extract``: interrupted and resumed runs, bad inputs, folder mirroring, HDF5."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from video_helpers import make_video, truncate_copy

from c3d.cli import main
from c3d.extraction.h5store import group_keys, read_h5_video
from c3d.extraction.writers import ARRAY_NAMES, read_npz
from conftest import BASEBALL_VIDEO


def outputs(folder):
    """{relative path: arrays} of the finished .npz outputs under ``folder``."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".npz") and not name.startswith(".tmp-"):
                path = os.path.join(root, name)
                found[os.path.relpath(path, folder)] = read_npz(path)
    return found


def temporaries(folder):
    return [name for _, _, files in os.walk(folder) for name in files if name.startswith(".tmp-")]


def assert_same_outputs(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        assert sorted(a[key]) == sorted(ARRAY_NAMES)
        for name in ARRAY_NAMES:
            assert np.array_equal(a[key][name], b[key][name]), (key, name)


def extract(*args):
    return main(["extract", *map(str, args)])


@pytest.fixture()
def videos(tmp_path):
    """Five small videos in two folders. The last one in processing order (b/four.avi,
    14 clips) is long enough that a signal sent after an earlier video's output appears
    always lands while work remains, however fast the machine."""
    root = tmp_path / "videos"
    for name, n_frames, seed in (
        ("a/one.avi", 20, 1),
        ("a/two.mp4", 24, 2),
        ("a/short.avi", 10, 3),
        ("b/four.avi", 120, 4),
        ("b/five.avi", 30, 5),
    ):
        make_video(root / name, n_frames, seed=seed)
    return root


def _default_sigint():
    # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored
    # SIGINT ignored; the child must see Ctrl-C even when the test suite runs that way.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_extract(args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "c3d", "extract", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def wait_for_outputs(process, folder, count, timeout=300):
    deadline = time.monotonic() + timeout
    while len(outputs(folder)) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no output appeared"
        time.sleep(0.02)


def test_killed_runs_resume_to_the_outputs_of_an_uninterrupted_run(
    videos, tmp_path, sport1m_weights, subprocess_env
):
    out = tmp_path / "out"
    args = [videos, "-o", out, "--weights", sport1m_weights, "--batch-size", "2"]

    # kill -9 once the first video is written
    process = start_extract(args, subprocess_env)
    wait_for_outputs(process, out, 1)
    process.kill()
    process.wait()
    after_kill = outputs(out)  # every output there is complete (np.load read it)
    assert 1 <= len(after_kill) < 5

    # Ctrl-C once another is written: a clean stop, nothing half-written left behind
    process = start_extract(args, subprocess_env)
    wait_for_outputs(process, out, len(after_kill) + 1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    after_interrupt = outputs(out)
    assert len(after_interrupt) < 5

    # the re-run skips what is done and finishes the rest
    finish = start_extract(args, subprocess_env)
    _, stderr = finish.communicate(timeout=300)
    assert finish.returncode == 0, stderr
    assert f"skipping {len(after_interrupt)} of 5 videos" in stderr
    assert f"done {5 - len(after_interrupt)}, skipped {len(after_interrupt)}, failed 0" in stderr
    resumed = outputs(out)
    assert temporaries(out) == []  # the killed run's temporary file was cleaned up

    reference = tmp_path / "reference"
    assert extract(videos, "-o", reference, "--weights", sport1m_weights, "--batch-size", "2") == 0
    uninterrupted = outputs(reference)
    assert sorted(uninterrupted) == sorted(
        ["a/one.avi.npz", "a/two.mp4.npz", "a/short.avi.npz", "b/four.avi.npz", "b/five.avi.npz"]
    )
    assert_same_outputs(resumed, uninterrupted)  # bit for bit
    assert_same_outputs(after_kill, {k: uninterrupted[k] for k in after_kill})


def test_bad_inputs_are_reported_and_the_rest_is_done(tmp_path, sport1m_weights, capsys):
    good = make_video(tmp_path / "in" / "good.avi", 16, seed=9)
    (tmp_path / "in" / "zero.mp4").write_bytes(b"")
    (tmp_path / "in" / "text.mp4").write_text("I am a text file\n" * 50)
    truncated = truncate_copy(BASEBALL_VIDEO, tmp_path / "in" / "truncated.avi", 0.1)
    empty = make_video(tmp_path / "in" / "empty.avi", 0)
    missing = tmp_path / "missing.mp4"
    failures = tmp_path / "failures.txt"
    out = tmp_path / "out"
    code = extract(
        tmp_path / "in",
        missing,
        *("-o", out, "--weights", sport1m_weights, "--failures", failures, "--batch-size", 1),
    )
    stderr = capsys.readouterr().err
    assert code == 1
    expected = {
        str(missing): "no such file",
        str(tmp_path / "in" / "zero.mp4"): "empty file (0 bytes)",
        str(tmp_path / "in" / "text.mp4"): "not a video",
        truncated: "truncated or corrupt",
        empty: "no frames could be decoded",
    }
    lines = failures.read_text().splitlines()
    assert len(lines) == 5
    for path, reason in expected.items():
        (line,) = [line for line in lines if line.startswith(f"{path}: ")]
        assert reason in line
        assert line in stderr
    assert "done 1, skipped 0, failed 5" in stderr
    assert list(outputs(out)) == ["good.avi.npz"]
    assert outputs(out)["good.avi.npz"]["starts"].tolist() == [0]
    assert os.path.exists(good)


def test_folders_are_mirrored_and_h5_holds_the_same_arrays(tmp_path, sport1m_weights, capsys):
    make_video(tmp_path / "in" / "a" / "clip.mp4", 16, seed=11)
    make_video(tmp_path / "in" / "b" / "clip.mp4", 16, seed=12)
    common = ["--weights", sport1m_weights, "--batch-size", "2"]
    assert extract(tmp_path / "in", "-o", tmp_path / "npz", *common) == 0
    npz = outputs(tmp_path / "npz")
    assert sorted(npz) == ["a/clip.mp4.npz", "b/clip.mp4.npz"]
    assert not np.array_equal(npz["a/clip.mp4.npz"]["clips"], npz["b/clip.mp4.npz"]["clips"])

    h5_file = tmp_path / "features.h5"
    assert extract(tmp_path / "in", "-o", h5_file, "--format", "h5", *common) == 0
    assert group_keys(h5_file) == ["a/clip.mp4", "b/clip.mp4"]
    for key in ("a/clip.mp4", "b/clip.mp4"):
        assert_same_outputs({key: read_h5_video(h5_file, key)}, {key: npz[f"{key}.npz"]})

    # resume with h5: the new video is added, the others skipped and kept
    make_video(tmp_path / "in" / "c" / "new.avi", 20, seed=13)
    capsys.readouterr()
    assert extract(tmp_path / "in", "-o", h5_file, "--format", "h5", *common) == 0
    assert "done 1, skipped 2, failed 0" in capsys.readouterr().err
    assert group_keys(h5_file) == ["a/clip.mp4", "b/clip.mp4", "c/new.avi"]
    assert_same_outputs({"a": read_h5_video(h5_file, "a/clip.mp4")}, {"a": npz["a/clip.mp4.npz"]})
    assert read_h5_video(h5_file, "c/new.avi")["starts"].tolist() == [0]
    assert not os.listdir(f"{h5_file}.c3d/staging")


def test_bad_options_fail_before_any_work(tmp_path, capsys):
    assert extract(BASEBALL_VIDEO, "-o", tmp_path, "--stride", "0") == 1
    assert "--stride must be between 1 and 100000" in capsys.readouterr().err
    assert extract(BASEBALL_VIDEO, "-o", tmp_path, "--weights", tmp_path / "none.h5") == 1
    assert "`c3d fetch-weights`" in capsys.readouterr().err
