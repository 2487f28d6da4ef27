"""PCA files in the layout of the ActivityNet challenge's ``PCA_activitynet_v1-3.hdf5``.

The ActivityNet (2016 challenge) and THUMOS14 C3D features are fc7 activations of
16-frame clips every 8 frames, reduced from 4096 to 500 dimensions with a PCA that ships
as an HDF5 file: ``data/U`` (4096, 4096), the components in columns, most variance first;
``data/S``; ``data/x_mean`` (1, 4096). A clip's features ``x`` become
``(x - x_mean) @ U[:, :500]`` — the rule DAPs documents for its THUMOS14 file
(escorciav/daps, ``data/models/README.md``: ``np.dot(x - x_mean, U[:, :num_red_dim])``),
whose file holds the same three datasets at the root; both layouts are read here.
How to apply that file is the question of JaywongWang/DenseVideoCaptioning#13, #14, #26.

``fit`` makes such a file from features already extracted, in one pass that never holds
all clips: each chunk of clips (CHUNK_ROWS, from one or more videos) is reduced to its
count, mean and scatter matrix (sum of outer products about its own mean), and those are
merged exactly (Chan, Golub and LeVeque's pairwise update), in float64. The D x D scatter
(128 MB for fc7) and one chunk (64 MB) are the only large things in memory. ``S`` holds
the covariance's eigenvalues (the variance along each component, all D of them, most
first); ``U`` the first ``dims`` eigenvectors.
"""

import os

import h5py
import numpy as np

from c3d.atomic import atomic_output
from c3d.errors import C3DError
from c3d.extraction.layouts import PCA_DIMS as DIMS

# Clips merged into the scatter matrix at a time: each merge adds D x D matrices (128 MB
# for fc7), so merging video by video would cost more than the products for short videos.
CHUNK_ROWS = 2048
GROUP = "data"  # the challenge's file keeps U, S and x_mean in a group "data"


class PCA:
    """``U`` (D, K) components in columns, ``S`` eigenvalues, ``x_mean`` (1, D)."""

    def __init__(self, U, S, x_mean, source=None, layer=None):
        self.U = np.asarray(U)
        self.S = np.asarray(S)
        self.x_mean = np.asarray(x_mean).reshape(1, -1)
        self.source = source
        self.layer = layer  # the features it was fitted to, when the file says (ours do)

    @property
    def dims(self):
        """Features in (D)."""
        return self.x_mean.shape[1]

    @property
    def components(self):
        """Components available (K)."""
        return self.U.shape[1]

    def project(self, x, dims=DIMS):
        """(x - x_mean) @ U[:, :dims] for clips ``x`` (N, D), in float64; float32 (N, dims)."""
        x = np.asarray(x, dtype=np.float64)
        centred = x - self.x_mean.astype(np.float64)
        return (centred @ self.U[:, :dims].astype(np.float64)).astype(np.float32)


def read_pca(path, dims=DIMS):
    """The PCA of a file (``data/U``… as ActivityNet's, or ``U``… as DAPs'); one-line errors.

    It must hold at least ``dims`` components of D-dimensional features.
    """
    path = os.fspath(path)
    try:
        with h5py.File(path, "r") as f:
            group = f[GROUP] if isinstance(f.get(GROUP), h5py.Group) else f
            missing = [name for name in ("U", "x_mean") if name not in group]
            if missing:
                raise C3DError(
                    f"{path}: not a PCA file: no {' or '.join(missing)} (expected data/U, "
                    "data/S and data/x_mean, as in ActivityNet's PCA_activitynet_v1-3.hdf5)"
                )
            U = np.asarray(group["U"][()])
            S = np.asarray(group["S"][()]) if "S" in group else np.zeros(0)
            x_mean = np.asarray(group["x_mean"][()])
            layer = group.attrs.get("layer")
    except (OSError, KeyError, TypeError, RuntimeError) as exc:  # no HDF5, a damaged block
        reason = " ".join(str(exc).split())
        raise C3DError(f"{path}: not a readable PCA file ({reason})") from None
    x_mean = x_mean.reshape(1, -1)
    if U.ndim != 2 or U.shape[0] != x_mean.shape[1]:
        raise C3DError(
            f"{path}: U of shape {U.shape} does not fit x_mean of {x_mean.shape[1]} values "
            "(U holds one component per column)"
        )
    if U.shape[1] < dims:
        raise C3DError(f"{path}: holds {U.shape[1]} components, {dims} are needed")
    layer = layer.decode() if isinstance(layer, bytes) else layer
    return PCA(U, S, x_mean, source=path, layer=None if layer is None else str(layer))


def write_pca(path, pca, attrs=None):
    """Write ``pca`` atomically in the challenge's layout (``data/U``, ``data/S``,
    ``data/x_mean``), with ``attrs`` on the group."""
    with atomic_output(os.fspath(path)) as tmp:
        f = h5py.File(tmp, "w")
        try:
            group = f.create_group(GROUP)
            group.create_dataset("U", data=pca.U)
            group.create_dataset("S", data=pca.S)
            group.create_dataset("x_mean", data=pca.x_mean)
            for name, value in (attrs or {}).items():
                group.attrs[name] = value
        finally:
            f.close()


class ScatterAccumulator:
    """Count, mean and scatter matrix of rows seen in batches, merged exactly in float64."""

    def __init__(self):
        self.n = 0
        self.mean = None
        self.scatter = None

    def add(self, rows):
        rows = np.asarray(rows, dtype=np.float64)
        rows = rows.reshape(-1, rows.shape[-1])
        if not len(rows):
            return
        if self.mean is not None and rows.shape[1] != self.mean.shape[0]:
            raise ValueError(f"rows of {rows.shape[1]} values after rows of {len(self.mean)}")
        mean = rows.mean(axis=0)
        centred = rows - mean
        scatter = centred.T @ centred
        if self.mean is None:
            self.n, self.mean, self.scatter = len(rows), mean, scatter
            return
        n = self.n + len(rows)
        delta = mean - self.mean
        self.scatter += scatter
        self.scatter += np.outer(delta, delta) * (self.n * len(rows) / n)
        self.mean = self.mean + delta * (len(rows) / n)
        self.n = n

    def covariance(self):
        return self.scatter / (self.n - 1)


def pca_of(accumulator, dims):
    """The PCA of what ``accumulator`` saw: the first ``dims`` components of its covariance.

    Each component's sign is fixed (its largest entry positive) so fits are repeatable.
    """
    values, vectors = np.linalg.eigh(accumulator.covariance())
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order[:dims]]
    largest = np.abs(vectors).argmax(axis=0)
    vectors *= np.sign(vectors[largest, np.arange(vectors.shape[1])])
    return PCA(vectors, np.clip(values, 0, None), accumulator.mean.reshape(1, -1))


def feature_files(paths):
    """The features files of ``paths``: .npz and .h5 files, folders searched (sorted).

    Hidden files and folders (claims, staging) are skipped, and so are an h5 file's shards
    (reached through its index).
    """
    found = []
    for path in map(os.fspath, paths):
        if not os.path.isdir(path):
            if not os.path.exists(path):
                raise C3DError(f"{path}: no such file")
            found.append(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith(".c3d"))
            for name in sorted(files):
                if not name.startswith(".") and name.lower().endswith((".npz", ".h5", ".hdf5")):
                    found.append(os.path.join(root, name))
    return found


def iter_clips(path):
    """Yield (name, clips (N, D) or (N, V, D), recorded settings) of each video of a file."""
    from c3d.extraction import provenance
    from c3d.extraction.h5store import group_keys, reading
    from c3d.extraction.writers import npz_settings, read_npz

    if path.lower().endswith(".npz"):
        arrays = read_npz(path)
        if "clips" not in arrays:
            raise C3DError(f"{path}: not a c3d features file (no clips)")
        yield path, arrays["clips"], npz_settings(path)
        return
    keys = group_keys(path)  # one-line errors (h5store.reading)
    with reading(path) as f:
        for key in keys:
            group = f[key]
            text = group.attrs.get(provenance.PROVENANCE_ATTR)
            recorded = {} if text is None else provenance.from_json(text, f"{path}:{key}")
            yield f"{path}:{key}", np.asarray(group["clips"][()]), recorded


def fit(paths, dims=DIMS, on_video=None):
    """Fit a PCA of ``dims`` components to the clips of features files (npz or h5).

    Every file must hold features of the same layer (as recorded) and size. Reads one
    video at a time and merges clips CHUNK_ROWS at a time. Returns (PCA, attrs to record:
    clips, videos, layer, settings seen).
    """
    accumulator = ScatterAccumulator()
    layer, first, videos, size = None, None, 0, None
    pending, pending_rows = [], 0  # clips not yet merged: merged in chunks (CHUNK_ROWS)
    for path in feature_files(paths):
        for name, clips, recorded in iter_clips(path):
            this_layer = recorded.get("layer")
            if this_layer is not None:
                if layer is not None and this_layer != layer:
                    raise C3DError(
                        f"{name}: {this_layer} features, the files before it hold {layer}"
                    )
                layer = this_layer
            clips = np.asarray(clips)
            if size is not None and clips.shape[-1] != size:
                raise C3DError(
                    f"{name}: features of {clips.shape[-1]} values, the files before it hold {size}"
                )
            size = clips.shape[-1]
            pending.append(clips.reshape(-1, clips.shape[-1]))
            pending_rows += len(pending[-1])
            if pending_rows >= CHUNK_ROWS:
                accumulator.add(np.concatenate(pending))
                pending, pending_rows = [], 0
            first = first or recorded
            videos += 1
            if on_video is not None:
                on_video()
    if pending:
        accumulator.add(np.concatenate(pending))
    if accumulator.mean is None:
        raise C3DError("no features found (c3d extract's .npz files or .h5 files)")
    size = accumulator.mean.shape[0]
    if dims > size:
        raise C3DError(f"--dims {dims}: the features have only {size} values")
    if accumulator.n <= dims:
        raise C3DError(
            f"{dims} components need more than {dims} clips; the features hold {accumulator.n}"
        )
    attrs = {"clips": accumulator.n, "videos": videos, "layer": layer or "unknown"}
    for name in ("weights", "weights_sha256", "mean", "mean_sha256", "precision", "stride"):
        if name in (first or {}):
            attrs[f"features_{name}"] = first[name]
    return pca_of(accumulator, dims), attrs
