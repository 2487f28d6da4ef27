"""``c3d extract --engine ray`` on a single-node local Ray (``ray.init(num_cpus=2)``, one Ray
for the module): the local engine's outputs, failures and exit status; a model worker killed
mid-run; ``--format h5``; without Ray, one line saying how to install it."""

import os
import signal
import sys

import psutil
import pytest
from ray_helpers import (
    BAD,
    GOOD,
    KillWhenOutputAppears,
    assert_equal_outputs,
    extract_args,
    make_videos,
    npz_outputs,
    run_extract,
    runtime_env,
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


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp("ray_videos") / "videos")


@pytest.fixture(scope="module")
def reference(videos, sport1m_weights):
    """The local engine's outputs, failure lines, exit status and summary."""
    out = videos.parent / "local"
    code, failures, summary = run_extract_plain(extract_args(videos, out, sport1m_weights))
    return npz_outputs(out), failures, code, summary


def run_extract_plain(args):
    failures = args[args.index("-o") + 1].parent / "local.failures"
    code = main([*map(str, args), "--failures", str(failures)])
    return code, sorted(failures.read_text().splitlines()), None


def expected_failures(videos):
    """Every bad video and the missing one fails, each once (independent of the engine)."""
    return sorted([str(videos / key) for key in BAD] + [str(videos.parent / "missing.mp4")])


def check_reference(reference, videos):
    outputs, failures, code, _ = reference
    assert code == 1 and sorted(outputs) == sorted(GOOD)
    assert [line.split(": ")[0] for line in failures] == expected_failures(videos)


def test_ray_writes_what_the_local_engine_writes(
    local_ray, videos, reference, sport1m_weights, tmp_path, capsys
):
    check_reference(reference, videos)
    outputs, failures, code, _ = reference
    got_code, got_failures, summary = run_extract(
        extract_args(videos, tmp_path / "out", sport1m_weights, *RAY), capsys
    )
    assert got_code == code == 1
    assert sorted(got_failures) == failures  # the same lines, each once (order: as they came)
    assert summary[0].startswith(summary_of(len(GOOD), 0, len(failures)))
    assert_equal_outputs(npz_outputs(tmp_path / "out"), outputs)
    assert not os.listdir(tmp_path / "out" / ".c3d" / "ray-parts")  # nothing left behind

    # resumable: a second run skips every video, checked against its provenance
    code, _, summary = run_extract(
        extract_args(videos, tmp_path / "out", sport1m_weights, *RAY), capsys
    )
    assert summary[0].startswith(summary_of(0, len(GOOD), len(failures)))


def summary_of(done, skipped, failed):
    return f"c3d extract: done {done}, skipped {skipped}, failed {failed} ("


def model_workers():
    """The processes of Ray Data's actors running the model."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any("ModelReplica" in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def test_a_model_worker_killed_mid_run_is_redone(
    local_ray, videos, reference, sport1m_weights, tmp_path, capsys
):
    out = tmp_path / "out"

    def kill():
        workers = model_workers()
        for process in workers:
            os.kill(process.pid, signal.SIGKILL)
        return len(workers)

    killer = KillWhenOutputAppears(out, kill)
    killer.start()
    code, failures, summary = run_extract(extract_args(videos, out, sport1m_weights, *RAY), capsys)
    killer.join()
    assert killer.killed == 1 and killer.outputs_then < len(GOOD)  # killed mid-run
    outputs, ref_failures, ref_code, _ = reference
    assert code == ref_code and sorted(failures) == ref_failures
    assert summary[0].startswith(summary_of(len(GOOD), 0, len(BAD) + 1))
    assert_equal_outputs(npz_outputs(out), outputs)


def test_ray_writes_h5_as_the_local_engine_writes_npz(
    local_ray, videos, reference, sport1m_weights, tmp_path, capsys
):
    outputs, failures, code, _ = reference
    h5 = tmp_path / "features.h5"
    got_code, got_failures, _ = run_extract(
        extract_args(videos, h5, sport1m_weights, *RAY, "--format", "h5"), capsys
    )
    assert got_code == code and sorted(got_failures) == failures
    assert sorted(group_keys(h5)) == sorted(GOOD)
    recorded = H5Writer(h5).recorded(GOOD)
    for key in GOOD:
        got = read_h5_video(h5, key)
        assert_equal_outputs({key: got}, {key: outputs[key]}, names=ARRAY_NAMES)
        assert recorded[key] == provenance.from_json(str(outputs[key][PROVENANCE]), key)
    assert not os.listdir(str(h5) + ".c3d/staging")  # everything packed
