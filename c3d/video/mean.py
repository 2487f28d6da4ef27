"""The mean cube subtracted from clips: the shipped Sports-1M one, or a user's file.

A mean cube is float32 (3, L, H, W) in Caffe's (C, L, H, W) order, channels BGR, the
layout the C3D authors shipped. How a cube is fitted to a clip (scaled, sampled in time,
aligned on the frame) is ``ClipFormat``'s job; this module only finds the cube.

Files: ``.npy``/``.npz`` (key ``mean``) are read here; other formats (the Caffe
``.binaryproto``) by readers that packages register under the ``c3d.mean_readers``
entry-point group (the ``converter`` package registers Caffe's), so that c3d never
imports the converter.
"""

import functools
import os
import zipfile
import zlib
from importlib import metadata, resources

import numpy as np

from c3d.errors import C3DError

# The mean cube used with the Sports-1M C3D model, stored as float32 (the original
# float64 values are exact in float32).
MEAN_CUBE_FILE = "mean_cube.npz"
READERS_GROUP = "c3d.mean_readers"


@functools.lru_cache(maxsize=1)
def sports1m_mean_cube():
    """The shipped mean cube, float32 (3, 16, 128, 171) = Caffe (C, L, H, W), BGR."""
    with resources.files("c3d").joinpath("data", MEAN_CUBE_FILE).open("rb") as f:
        mean = np.load(f)["mean"]
    mean.setflags(write=False)
    return mean


def _registered_reader(suffix):
    for entry in metadata.entry_points(group=READERS_GROUP):
        if entry.name == suffix:
            return entry.load()
    return None


def _read_file(path):
    lower = path.lower()
    if lower.endswith((".npy", ".npz")):
        try:
            loaded = np.load(path, allow_pickle=False)
            return loaded["mean"] if lower.endswith(".npz") else loaded
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise C3DError(f"{path}: not a readable numpy mean file ({exc})") from None
    suffix = os.path.splitext(lower)[1].lstrip(".")
    reader = _registered_reader(suffix) if suffix else None
    if reader is None:
        raise C3DError(f"{path}: unknown mean format (use .npy, .npz or .binaryproto)")
    if not os.path.isfile(path):
        raise C3DError(f"{path}: no such file")
    return reader(path)


def load_mean(mean=None):
    """A (3, L, H, W) float32 mean cube from None (the shipped one), an array or a file."""
    if mean is None:
        return sports1m_mean_cube()
    source = "mean"
    if isinstance(mean, (str, os.PathLike)):
        source = os.fspath(mean)
        mean = _read_file(source)
    cube = np.asarray(mean, dtype=np.float32)
    if cube.ndim == 5 and cube.shape[0] == 1:  # a Caffe blob with num=1
        cube = cube[0]
    if cube.ndim != 4 or cube.shape[0] != 3:
        raise C3DError(f"{source}: mean must be (3, L, H, W) in Caffe order, got {cube.shape}")
    return cube
