"""``c3d extract --engine ray`` on a single-node local Ray (``ray.init(num_cpus=2)``, one Ray
for the module): the local engine's outputs, failures and exit status; a model worker killed
mid-run (with ``--format h5``); without Ray, one line saying how to install it."""

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
from c3d.extraction import provenance
from c3d.extraction.h5store import H5Writer, group_keys, read_h5_video
from c3d.extraction.writers import ARRAY_NAMES, PROVENANCE

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


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env())
    yield
    ray.shutdown()


def test_ray_writes_what_the_local_engine_writes(
    local_ray, ray_videos_and_reference, sport1m_weights, tmp_path, capsys
):
    videos, outputs, failures, code = check_reference(ray_videos_and_reference)
    args = extract_args(videos, tmp_path / "out", sport1m_weights, *RAY)
    got_code, got_failures, summary = run_extract(args, capsys)
    assert got_code == code == 1
    assert sorted(got_failures) == failures  # the same lines, each once (order: as they came)
    assert summary == [summary_of(len(GOOD), 0, len(failures))]
    assert_equal_outputs(npz_outputs(tmp_path / "out"), outputs)
    assert os.listdir(tmp_path / "out" / ".c3d" / "ray-parts") == []  # nothing left behind

    # resumable: a second run checks each output's provenance and skips it
    got_code, got_failures, summary = run_extract(args, capsys)
    assert got_code == 1 and sorted(got_failures) == failures
    assert summary == [summary_of(0, len(GOOD), len(failures))]


def model_workers():
    """The processes of Ray Data's actors running the model."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any("ModelReplica" in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def test_a_model_worker_killed_mid_run_is_redone_h5(
    local_ray, ray_videos_and_reference, sport1m_weights, tmp_path, capsys
):
    videos, outputs, failures, code = check_reference(ray_videos_and_reference)
    h5 = tmp_path / "features.h5"

    def kill():
        workers = model_workers()
        for process in workers:
            os.kill(process.pid, signal.SIGKILL)
        return len(workers)

    # with h5, finished videos are staged (npz files) until the driver packs them
    killer = KillWhenOutputAppears(str(h5) + ".c3d/staging", kill)
    killer.start()
    args = extract_args(videos, h5, sport1m_weights, *RAY, "--format", "h5")
    got_code, got_failures, summary = run_extract(args, capsys)
    killer.join()
    assert killer.killed == 1 and killer.outputs_then < len(GOOD)  # killed mid-run
    assert got_code == code and sorted(got_failures) == failures
    assert summary == [summary_of(len(GOOD), 0, len(failures))]  # each video once
    assert sorted(group_keys(h5)) == sorted(GOOD)
    writer = H5Writer(h5)
    writer.prepare()  # reads the index
    recorded = writer.recorded(GOOD)
    for key in GOOD:
        assert_equal_outputs({key: read_h5_video(h5, key)}, {key: outputs[key]}, ARRAY_NAMES)
        assert recorded[key] == provenance.from_json(str(outputs[key][PROVENANCE]), key)
    assert os.listdir(str(h5) + ".c3d/staging") == []  # everything packed
