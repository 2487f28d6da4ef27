"""Shared fixtures: test data paths and a full-size C3D weights file with random weights."""

import os
import pathlib

import pytest

import c3d  # noqa: F401  (runtime defaults before TensorFlow loads)

DATA = pathlib.Path(__file__).parent / "data"
BASEBALL_VIDEO = DATA / "v_BaseballPitch_g01_c01.avi"
MAKEUP_VIDEO = DATA / "v_ApplyEyeMakeup_g01_c01.avi"
FB_MEAN_BINARYPROTO = DATA / "fb_train16_128_mean.binaryproto"


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
