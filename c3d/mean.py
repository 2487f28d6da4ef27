"""Loading a mean cube given by the user (``--mean``): .npy, .npz or Caffe .binaryproto."""

import os

import numpy as np

from c3d.resources import sports1m_mean_cube


def load_mean(path=None):
    """Return a (3, L, H, W) float32 mean cube in Caffe order (BGR); None gives the shipped one."""
    if path is None:
        return sports1m_mean_cube()
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(".binaryproto"):
        from converter.blobs import read_mean_blob  # the Caffe reader lives in converter/

        mean = read_mean_blob(path)
    elif lower.endswith((".npy", ".npz")):
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable numpy file ({exc})") from None
        mean = loaded["mean"] if lower.endswith(".npz") else loaded
    else:
        raise ValueError(f"{path}: unknown mean format (use .npy, .npz or .binaryproto)")
    mean = np.asarray(mean, dtype=np.float32)
    if mean.ndim == 5 and mean.shape[0] == 1:  # a Caffe blob with num=1
        mean = mean[0]
    if mean.ndim != 4 or mean.shape[0] != 3:
        raise ValueError(f"{path}: mean must be (3, L, H, W) in Caffe order, got {mean.shape}")
    return mean
