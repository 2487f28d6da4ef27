"""Several ``c3d extract`` processes on the same inputs and output split the work (issue 11):
every video is done exactly once, and the outputs equal those of one process."""

import re
import subprocess
import sys

import pytest
from test_extract_cli import assert_same_outputs, outputs
from video_helpers import make_video

from c3d.extraction.h5store import group_keys, read_h5_video

N_VIDEOS = 9


@pytest.fixture(scope="module")
def shared_work(tmp_path_factory, sport1m_weights):
    """Nine short videos, and the npz outputs of one process (the reference)."""
    root = tmp_path_factory.mktemp("shared")
    for index in range(N_VIDEOS):
        make_video(root / "videos" / f"v{index}.avi", 16 + 8 * (index % 2), seed=index)
    reference = root / "one-process"
    done = subprocess.run(
        [sys.executable, "-m", "c3d", "extract", str(root / "videos"), "-o", str(reference),
         "--weights", sport1m_weights, "--batch-size", "2"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root, outputs(reference)


def run_together(args, env, count=3):
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "c3d", "extract", *map(str, args)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    return [(p.wait(timeout=600), p.communicate()[1]) for p in processes]


def done_counts(stderr):
    match = re.search(
        r"done (\d+), skipped (\d+)(?:, by other processes (\d+))?, failed (\d+)", stderr
    )
    assert match, stderr
    return [int(group or 0) for group in match.groups()]


@pytest.mark.parametrize("fmt", ["npz", "h5"])
def test_three_processes_do_each_video_exactly_once(
    tmp_path, shared_work, sport1m_weights, subprocess_env, fmt
):
    root, reference = shared_work
    output = tmp_path / ("features.h5" if fmt == "h5" else "out")
    args = [root / "videos", "-o", output, "--format", fmt, "--weights", sport1m_weights]
    finished = run_together([*args, "--batch-size", "2"], subprocess_env)
    counts = []
    for code, stderr in finished:
        assert code == 0, stderr
        assert "Traceback" not in stderr
        counts.append(done_counts(stderr))
    # done + skipped (done before it looked) + done by others: every video, in each process
    assert all(done + skipped + others == N_VIDEOS for done, skipped, others, _ in counts)
    assert sum(done for done, *_ in counts) == N_VIDEOS, counts  # each computed once
    if fmt == "npz":
        got = outputs(output)
    else:
        got = {f"{key}.npz": read_h5_video(output, key) for key in group_keys(output)}
    assert_same_outputs(got, reference)
    claims = list((output.parent if fmt == "h5" else output).rglob("*.claim"))
    assert claims == []  # every claim released
