"""``c3d extract --engine ray`` on a single-node local Ray (``ray.init(num_cpus=2)``, one Ray
for the module): with the model's worker killed mid-run, the local engine's outputs, failures
and exit status, each video done once; without Ray, one line saying how to install it.
(``--format h5``: tests/test_extract_ray_cluster.py. One Ray run a module: each loads
TensorFlow and the full-size model in its actor, ~20 s on 2 cores.)"""

import os
import signal
import sys

import psutil
import pytest
from ray_helpers import (
    GOOD,
    KillWhenOutputAppears,
    assert_equal_outputs,
    check_reference,
    extract_args,
    npz_outputs,
    run_extract,
    runtime_env,
    summary_of,
)

from c3d.cli import main

ray = pytest.importorskip("ray")

RAY = ("--engine", "ray", "--workers", "1")


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
        (("--workers", "2"), "--workers needs --engine ray"),
        (("--ray-address", "auto"), "--ray-address needs --engine ray"),
        ((*RAY, "--decoders", "2"), "--decoders: with --engine ray, Ray's CPU tasks decode"),
        (
            ("--engine", "ray", "--workers", "0"),
            "--workers must be between 1 and 1024. Received: --workers 0",
        ),
        *(
            (
                (*RAY, option, value),
                "--engine ray extracts one centre crop a clip at the native frame rate, "
                f"to npz or h5. Received: {option} {value}",
            )
            for option, value in (("--preset", "sultani"), ("--crops", "10"), ("--fps", "25.0"))
        ),
    ],
)
def test_engine_options_are_checked_up_front(tmp_path, capsys, options, message):
    (tmp_path / "in").mkdir()
    assert main(["extract", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *options]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"c3d extract: error: {message}"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env())
    yield
    ray.shutdown()


def model_workers():
    """The processes of Ray Data's actors running the model."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any("ModelReplica" in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def test_a_model_worker_killed_mid_run_still_gives_the_local_engines_outputs(
    local_ray, ray_videos_and_reference, sport1m_weights, tmp_path, capsys
):
    videos, outputs, failures, code = check_reference(ray_videos_and_reference)
    out = tmp_path / "out"

    def kill():
        workers = model_workers()
        for process in workers:
            os.kill(process.pid, signal.SIGKILL)
        return len(workers)

    killer = KillWhenOutputAppears(out, kill)
    killer.start()
    args = extract_args(videos, out, sport1m_weights, *RAY)
    got_code, got_failures, summary = run_extract(args, capsys)
    killer.join()
    assert killer.killed == 1 and killer.outputs_then < len(GOOD)  # killed mid-run
    assert got_code == code == 1
    assert sorted(got_failures) == failures  # the same lines, each once (order: as they came)
    assert summary == [summary_of(len(GOOD), 0, len(failures))]  # each video done once
    assert_equal_outputs(npz_outputs(out), outputs)  # files, keys, provenance, arrays
    assert os.listdir(out / ".c3d" / "ray-parts") == []  # nothing left behind

    # resumable: a second run checks each output's provenance and skips it
    got_code, got_failures, summary = run_extract(args, capsys)
    assert got_code == 1 and sorted(got_failures) == failures
    assert summary == [summary_of(0, len(GOOD), len(failures))]


def test_more_workers_than_the_cluster_can_feed_is_one_line(
    local_ray, ray_videos_and_reference, sport1m_weights, tmp_path, capsys
):
    videos = ray_videos_and_reference[0]
    args = extract_args(videos, tmp_path / "out", sport1m_weights, "--engine", "ray")
    assert main([*map(str, args), "--workers", "2"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "c3d extract: error: --workers 2: each model replica takes a CPU and decoding at least "
        "one more, and the Ray cluster has 2 CPUs"
    )
    claims = tmp_path / "out" / ".c3d" / "claims"
    assert not claims.exists() or not os.listdir(claims)  # refused before any claim
