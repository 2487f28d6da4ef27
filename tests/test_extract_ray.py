"""``c3d extract --engine ray`` on a single-node local Ray (``ray.init(num_cpus=2)``, one Ray
for the module): the local engine's outputs, failures and exit status, each video done once;
the layouts (``--preset``, ten crops, ``--fps``) give the local engine's files, also with the
model's worker killed mid-run; a local and a Ray run share one output, each video done once;
without Ray, one line saying how to install it.
(``--format h5``: tests/test_extract_ray_cluster.py. One Ray run a module: each loads
TensorFlow and the full-size model in its actor, ~20 s on 2 cores.)"""

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest
from ray_helpers import (
    GOOD,
    SMALL,
    KillWhenOutputAppears,
    assert_equal_outputs,
    check_reference,
    extract_args,
    files_of,
    make_small_videos,
    npz_outputs,
    output_files,
    run_extract,
    runtime_env,
    summary_of,
)
from video_helpers import make_video

from c3d.cli import main

ray = pytest.importorskip("ray")

RAY = ("--engine", "ray", "--replicas", "1")


def test_without_ray_the_engine_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    (tmp_path / "in").mkdir()
    code = main(["extract", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *RAY])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "c3d extract: error: --engine ray needs Ray: pip install 'c3d-keras[ray]'"
    ]


@pytest.mark.parametrize(
    "options, message",
    [
        (("--replicas", "2"), "--replicas needs --engine ray"),
        (("--workers", "2"), "--replicas needs --engine ray"),  # its former name
        (("--ray-address", "auto"), "--ray-address needs --engine ray"),
        ((*RAY, "--decoders", "2"), "--decoders: with --engine ray, Ray's CPU tasks decode"),
        (
            ("--engine", "ray", "--replicas", "0"),
            "--replicas must be between 1 and 1024. Received: --replicas 0",
        ),
    ],
)
def test_engine_options_are_checked_up_front(tmp_path, capsys, options, message):
    (tmp_path / "in").mkdir()
    assert main(["extract", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *options]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"c3d extract: error: {message}"]


@pytest.fixture(scope="module")
def local_ray():
    # address "local": a Ray of its own, even while another test module runs a cluster
    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env=runtime_env())
    yield
    ray.shutdown()


def model_workers():
    """The processes of Ray Data's actors running the model."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any("ModelReplica" in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def test_ray_gives_the_local_engines_outputs_and_failures(
    local_ray, ray_videos_and_reference, sport1m_weights, tmp_path, capsys
):
    videos, outputs, failures, code = check_reference(ray_videos_and_reference)
    out = tmp_path / "out"
    args = extract_args(videos, out, sport1m_weights, *RAY)
    got_code, got_failures, summary = run_extract(args, capsys)
    assert got_code == code == 1
    assert sorted(got_failures) == failures  # the same lines, each once (order: as they came)
    assert summary == [summary_of(len(GOOD), 0, len(failures))]  # each video done once
    assert_equal_outputs(npz_outputs(out), outputs)  # files, keys, provenance, arrays
    assert not (out / ".c3d" / "ray-parts").exists()  # nothing left behind

    # resumable: a second run checks each output's provenance and skips it
    got_code, got_failures, summary = run_extract(args, capsys)
    assert got_code == 1 and sorted(got_failures) == failures
    assert summary == [summary_of(0, len(GOOD), len(failures))]


def test_more_replicas_than_the_cluster_can_feed_is_one_line(
    local_ray, ray_videos_and_reference, sport1m_weights, tmp_path, capsys
):
    videos = ray_videos_and_reference[0]
    args = extract_args(videos, tmp_path / "out", sport1m_weights, "--engine", "ray")
    assert main([*map(str, args), "--replicas", "2"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "c3d extract: error: --replicas 2: each model replica takes a CPU and decoding at least "
        "one more, and the Ray cluster has 2 CPUs"
    )
    claims = tmp_path / "out" / ".c3d" / "claims"
    assert not claims.exists() or not os.listdir(claims)  # refused before any claim


# --- every option on Ray: the local engine's files --------------------------------------
@pytest.fixture(scope="module")
def small_videos(tmp_path_factory):
    return make_small_videos(tmp_path_factory.mktemp("small") / "videos")


def small_args(videos, out, weights, *options):
    return ["extract", videos, "-o", out, "--weights", weights, "--batch-size", "2", *options]


@pytest.mark.parametrize(
    "options, kill",
    [
        (("--preset", "rtfm", "--fps", "10"), True),  # ten crops a clip, resampled
        (("--preset", "sultani"), False),  # a video under 16 frames is refused by the layout
    ],
    ids=["rtfm-fps-killed", "sultani"],
)
def test_layouts_on_ray_write_the_local_engines_files(
    local_ray, small_videos, sport1m_weights, tmp_path, capsys, options, kill
):
    local, on_ray = tmp_path / "local" / "out", tmp_path / "ray" / "out"
    expected = run_extract(small_args(small_videos, local, sport1m_weights, *options), capsys)
    killer = None
    if kill:

        def kill_replicas():
            workers = model_workers()
            for process in workers:
                os.kill(process.pid, signal.SIGKILL)
            return len(workers)

        killer = KillWhenOutputAppears(on_ray, kill_replicas, outputs=files_of)
        killer.start()
    args = small_args(small_videos, on_ray, sport1m_weights, *options, *RAY)
    got = run_extract(args, capsys)
    if killer is not None:
        killer.join()
        assert killer.killed == 1 and killer.outputs_then < len(SMALL)  # killed mid-run
    code, failures, summary = expected
    assert got[0] == code == 1 and sorted(got[1]) == sorted(failures)  # the text file, ...
    assert got[2] == summary  # done, skipped and failed alike
    assert output_files(on_ray) == output_files(local)  # every file, bit for bit
    assert len(output_files(local)) >= 2


def test_a_local_run_and_a_ray_run_on_one_output_do_each_video_once(
    local_ray, sport1m_weights, tmp_path, capsys, subprocess_env
):
    videos = tmp_path / "videos"
    for seed in range(8):
        make_video(videos / f"v{seed}.avi", 48, seed=seed)  # 3 clips each at stride 16
    common = ("--stride", "16")
    reference = tmp_path / "reference"
    run_extract(small_args(videos, reference, sport1m_weights, *common), capsys)
    shared = tmp_path / "shared"
    local = subprocess.Popen(
        [sys.executable, "-m", "c3d", *map(str, small_args(videos, shared, sport1m_weights))]
        + [*common, "--decoders", "1"],
        env=subprocess_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # the Ray run starts once the local one is writing
        deadline = time.monotonic() + 240
        while not files_of(shared) and local.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        got = run_extract(small_args(videos, shared, sport1m_weights, *common, *RAY), capsys)
        _, local_err = local.communicate(timeout=300)
    finally:
        local.kill()
    local_summary = [line for line in local_err.splitlines() if "c3d extract: done" in line]
    done = [int(re.search(r"done (\d+)", line).group(1)) for line in [*local_summary, *got[2]]]
    assert local.returncode == got[0] == 0 and len(done) == 2
    assert sum(done) == 8, (local_summary, got[2])  # each video by one of them, once
    assert output_files(shared) == output_files(reference)
