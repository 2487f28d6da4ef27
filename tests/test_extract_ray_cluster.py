"""``c3d extract --engine ray`` on a 2-node ``ray.cluster_utils.Cluster`` on this machine (one
cluster for the module): ``--format h5`` with a node removed mid-run, its work redone by the
other — the arrays, provenance, failures and exit status of the local engine, each video
done once; ``--preset activitynet`` (PCA-500 in one HDF5 file) — the local engine's file."""

import contextlib
import os

import psutil
import pytest
from ray_helpers import (
    GOOD,
    KillWhenOutputAppears,
    assert_equal_outputs,
    check_reference,
    extract_args,
    make_small_videos,
    output_files,
    run_extract,
    runtime_env,
    summary_of,
)
from test_layouts import write_challenge_pca

from c3d.extraction import provenance
from c3d.extraction.h5store import H5Writer, group_keys, read_h5_video
from c3d.extraction.writers import ARRAY_NAMES, PROVENANCE

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")


@pytest.fixture(scope="module")
def two_nodes():
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    worker = cluster.add_node(num_cpus=2)
    ray.init(address=cluster.address, runtime_env=runtime_env())
    cluster.wait_for_nodes()
    yield cluster, worker
    ray.shutdown()
    cluster.shutdown()


def busy_workers(node):
    """The titles of the node's Ray workers running a task or an actor (not ray::IDLE)."""
    busy = []
    for kind, process in node.live_processes():
        if kind != "raylet":
            continue
        for child in psutil.Process(process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                title = " ".join(child.cmdline())
                if title.startswith("ray::") and not title.startswith("ray::IDLE"):
                    busy.append(title)
    return busy


def test_a_node_removed_mid_run_is_redone_elsewhere(
    two_nodes, ray_videos_and_reference, sport1m_weights, tmp_path, capsys
):
    cluster, worker = two_nodes
    videos, outputs, failures, code = check_reference(ray_videos_and_reference)
    h5 = tmp_path / "features.h5"

    def kill():
        busy = busy_workers(worker)
        cluster.remove_node(worker, allow_graceful=False)  # its processes killed
        return busy

    # with h5, the assembly tasks stage each video's npz; the driver packs them at the end
    killer = KillWhenOutputAppears(str(h5) + ".c3d/staging", kill)
    killer.start()
    # --workers: the former name of --replicas, still taken
    args = extract_args(videos, h5, sport1m_weights, "--engine", "ray", "--workers", "1")
    got_code, got_failures, summary = run_extract([*args, "--format", "h5"], capsys)
    killer.join()
    assert killer.killed and killer.outputs_then < len(GOOD)  # removed mid-run, busy
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
    assert not os.path.exists(str(h5) + ".c3d/ray-parts")


def test_the_activitynet_layout_on_two_nodes_is_the_local_engines_file(
    two_nodes, sport1m_weights, tmp_path, capsys
):
    videos = make_small_videos(tmp_path / "videos")
    write_challenge_pca(tmp_path / "pca.h5")
    options = ("--preset", "activitynet", "--pca", tmp_path / "pca.h5", "--batch-size", "2")
    local, on_ray = tmp_path / "local" / "anet.h5", tmp_path / "ray" / "anet.h5"
    for out in (local, on_ray):
        out.parent.mkdir()
    expected = run_extract(
        ["extract", videos, "-o", local, "--weights", sport1m_weights, *options], capsys
    )
    got = run_extract(
        ["extract", videos, "-o", on_ray, "--weights", sport1m_weights, *options]
        + ["--engine", "ray", "--replicas", "1"],
        capsys,
    )
    assert got[0] == expected[0] == 1 and sorted(got[1]) == sorted(expected[1])
    assert got[2] == expected[2]
    files = output_files(on_ray)
    assert files == output_files(local)
    assert {name.split("/")[0] for name in files["OUT"]} >= {"v_one", "v_three"}
