"""Package data shipped with c3d: the Sports-1M class names and the mean cube."""

import functools
from importlib import resources

import numpy as np

# The mean cube used with the Sports-1M C3D model, in Caffe order (C, L, H, W) with
# channels BGR, stored as float32 (the original float64 values are exact in float32).
MEAN_CUBE_FILE = "mean_cube.npz"
LABELS_FILE = "sports1m_labels.txt"


@functools.lru_cache(maxsize=1)
def sports1m_labels():
    """The 487 Sports-1M class names, in the model's output order."""
    text = resources.files("c3d").joinpath("data", LABELS_FILE).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@functools.lru_cache(maxsize=1)
def _mean_cube():
    with resources.files("c3d").joinpath("data", MEAN_CUBE_FILE).open("rb") as f:
        mean = np.load(f)["mean"]
    mean.setflags(write=False)
    return mean


def sports1m_mean_cube():
    """The shipped mean cube, float32 (3, 16, 128, 171) = Caffe (C, L, H, W), BGR."""
    return _mean_cube()
