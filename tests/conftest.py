"""Shared fixtures: test data paths, a full-size C3D weights file with random weights, and an
empty weights cache for every test (so weights in the real ~/.keras/models never count),
offline (so a weights name never downloads from the internet: tests serve their own)."""

import os
import pathlib
import subprocess

import pytest

import c3d  # noqa: F401  (runtime defaults before TensorFlow loads)

DATA = pathlib.Path(__file__).parent / "data"
BASEBALL_VIDEO = DATA / "v_BaseballPitch_g01_c01.avi"
MAKEUP_VIDEO = DATA / "v_ApplyEyeMakeup_g01_c01.avi"
FB_MEAN_BINARYPROTO = DATA / "fb_train16_128_mean.binaryproto"


@pytest.fixture(scope="session", autouse=True)
def empty_weights_cache(tmp_path_factory):
    """``$C3D_HOME`` set to an empty folder for the whole session (child processes too),
    ``$C3D_OFFLINE=1`` and no ``$C3D_MIRRORS``: tests that download unset the first."""
    from c3d.model.presets import CACHE_ENV, MIRRORS_ENV, OFFLINE_ENV

    folder = tmp_path_factory.mktemp("weights_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(folder))
        patch.setenv(OFFLINE_ENV, "1")
        patch.delenv(MIRRORS_ENV, raising=False)
        yield folder


@pytest.fixture(scope="session")
def data_dir():
    return DATA


@pytest.fixture(scope="session")
def sport1m_weights(tmp_path_factory):
    """A Keras 3 weights file of the full Sports-1M C3D with seeded random weights.

    See ``random_weights.py``: He-normal kernels, so features and classes depend
    visibly on the input.
    """
    from random_weights import write_random_weights

    path = tmp_path_factory.mktemp("weights") / "c3d_random.weights.h5"
    return str(write_random_weights(path, seed=1234))


@pytest.fixture()
def subprocess_env():
    """Environment for running the CLI or another backend in a child process."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PYTHONPATH"] = str(pathlib.Path(__file__).resolve().parents[1])
    return env


def mounted_tmpfs(folder, options, needs):
    """Yield a tmpfs mounted on ``folder`` (root only), unmounted afterwards; the test is
    skipped where mounting is not allowed (``needs``: what it needed it for)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount {needs} here (needs root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MB file system: a real full disk (HDF5 used to segfault on one)."""
    yield from mounted_tmpfs(tmp_path / "small", "size=1m", "a small tmpfs")


@pytest.fixture()
def read_only_disk(tmp_path):
    """A read-only file system (root ignores file permissions, not a read-only mount)."""
    yield from mounted_tmpfs(tmp_path / "read-only", "size=1m,ro", "a tmpfs")


@pytest.fixture(scope="session")
def ray_videos_and_reference(tmp_path_factory, sport1m_weights):
    """The Ray engine's tests' videos, and the local engine's outputs for them (computed once
    for both Ray modules): (videos folder, {key: arrays}, sorted failure lines, exit status)."""
    from ray_helpers import extract_args, make_videos, npz_outputs

    from c3d.cli import main

    videos = make_videos(tmp_path_factory.mktemp("ray_videos") / "videos")
    out, failures = videos.parent / "local", videos.parent / "local.failures"
    args = [*map(str, extract_args(videos, out, sport1m_weights)), "--failures", str(failures)]
    code = main(args)
    return videos, npz_outputs(out), sorted(failures.read_text().splitlines()), code


# The longest files first: `make test` runs the suite on 2 workers (pytest-xdist, a file
# each at a time), and a long file collected last made a 3-minute tail (13:40 in all on the
# 2-core CI machine). Seconds measured there, longest first; the order of the rest is kept.
SLOW_FILES = (
    "test_train.py",  # 250 s: C3D-BN learns from scratch
    "test_bench.py",  # 190 s: bench.gpu on JAX
    "test_extract_ray.py",  # ~200 s: layouts under Ray (a replica killed), a shared output
    "test_backends.py",  # 130 s
    "test_extract_safety.py",  # 130 s
    "test_converter.py",  # 110 s: full-size Caffe and torch files
    "test_extract_cli.py",  # 100 s
    "test_extract_concurrency.py",  # 90 s
    "test_leases.py",  # 75 s on a loaded 2-core machine: a killed run, one without fcntl
    "test_extract_ray_cluster.py",  # ~130 s: h5 with a node removed; activitynet on 2 nodes
    "test_first_run.py",  # 60 s: three full-size published files, make example
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES)))
