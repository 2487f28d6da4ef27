"""Writing extracted features: one ``.npz`` per video, or one HDF5 file for all, safely.

Every output is complete or absent: an interrupted run (Ctrl-C, ``kill -9``, a crash)
never leaves a truncated file under an output's name, so "the output exists" can mean
"this video is done" on the next run.

npz: ``OUTDIR/<key>.npz`` written to a hidden temporary name and renamed.

h5: one HDF5 file is never modified in place — an HDF5 file being written is not
consistent until it is closed, so a kill during an in-place append can corrupt every
group already in it. Instead, each finished video is staged as its own npz (atomically,
as above) in ``<file>.staging/``, and the staged videos are *folded* into the HDF5
file by writing a complete new file (old groups + staged ones) to a temporary name
and renaming it over the old one, then deleting the staged files. A kill at any point
leaves either the old file or the new one, plus staged files; folding again (every run
starts by folding leftovers) adds them, and a staged video replaces a group of the same
key, so folding a video twice (a kill between the rename and the deletes) is harmless.
Folding copies the file, so it happens once per run, at its end (or when interrupted).
One run at a time may write a given HDF5 file.
"""

import contextlib
import os
import shutil

import h5py
import numpy as np

from c3d.atomic import atomic_output, is_temporary_name
from c3d.errors import C3DError

ARRAY_NAMES = ("clips", "video", "starts", "fps", "n_frames", "padded")
STAGING_SUFFIX = ".staging"


def feature_arrays(clips, starts, fps, n_frames, padded):
    """The arrays of one video's output; ``video`` = mean of the clips, L2-normalised.

    An all-zero mean (every clip's features zero, possible after a ReLU) stays zero.
    """
    clips = np.asarray(clips, dtype=np.float32)
    mean = clips.mean(axis=0, dtype=np.float64)
    norm = np.linalg.norm(mean)
    video = mean / norm if norm > 0 else mean
    return {
        "clips": clips,
        "video": video.astype(np.float32),
        "starts": np.asarray(starts, dtype=np.int64),
        "fps": np.float64(fps),
        "n_frames": np.int64(n_frames),
        "padded": np.bool_(padded),
    }


def key_path(folder, key, suffix):
    """``folder/<key><suffix>`` for a '/'-separated key."""
    return os.path.join(folder, *key.split("/")) + suffix


def write_npz(path, arrays):
    with atomic_output(path) as tmp_path, open(tmp_path, "wb") as f:
        np.savez(f, **arrays)


def read_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _temporary_owner_alive(name):
    """Whether the process that made temporary file ``name`` (.tmp-PID-…) still runs."""
    try:
        pid = int(name.split("-")[1])
    except (IndexError, ValueError):
        return True  # not ours: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists
        return True
    return True


def remove_stale_temporaries(folder):
    """Delete temporary files under ``folder`` left by killed runs on this machine."""
    if not os.path.isdir(folder):
        return
    for root, _, files in os.walk(folder):
        for name in files:
            if is_temporary_name(name) and not _temporary_owner_alive(name):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(root, name))


class NpzWriter:
    """One ``OUTDIR/<key>.npz`` per video."""

    def __init__(self, outdir):
        self.outdir = os.fspath(outdir)
        if os.path.exists(self.outdir) and not os.path.isdir(self.outdir):
            raise C3DError(f"{self.outdir}: exists and is not a folder")
        remove_stale_temporaries(self.outdir)

    def describe(self):
        return self.outdir

    def path_for(self, key):
        return key_path(self.outdir, key, ".npz")

    def exists(self, key):
        return os.path.isfile(self.path_for(key))

    def write(self, key, arrays):
        write_npz(self.path_for(key), arrays)
        return self.path_for(key)

    def close(self):
        pass


class H5Writer:
    """One HDF5 file, a group per video (``/<key>/clips`` …), appended by atomic folds."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if os.path.isdir(self.path):
            raise C3DError(f"{self.path}: is a folder; --format h5 writes one .h5 file")
        self.staging = self.path + STAGING_SUFFIX
        parent = os.path.dirname(self.path)
        remove_stale_temporaries(self.staging)
        if os.path.isdir(parent or "."):
            remove_stale_temporaries_in(parent or ".", os.path.basename(self.path))
        self._done = self._keys_in_file()
        self.fold()  # finish what an interrupted run staged

    def describe(self):
        return self.path

    def _keys_in_file(self):
        if not os.path.exists(self.path):
            return set()
        try:
            with h5py.File(self.path, "r") as f:
                return set(group_keys(f))
        except OSError as exc:
            raise C3DError(f"{self.path}: not a readable HDF5 file ({exc})") from None

    def _staged(self):
        """{key: staged npz path} of the videos waiting to be folded in."""
        staged = {}
        for root, dirs, files in os.walk(self.staging):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".npz") and not is_temporary_name(name):
                    path = os.path.join(root, name)
                    key = os.path.relpath(path, self.staging)[: -len(".npz")]
                    staged[key.replace(os.sep, "/")] = path
        return staged

    def exists(self, key):
        return key in self._done or os.path.isfile(key_path(self.staging, key, ".npz"))

    def write(self, key, arrays):
        path = key_path(self.staging, key, ".npz")
        write_npz(path, arrays)
        return self.path

    def fold(self):
        """Move the staged videos into the HDF5 file (a new file renamed over the old)."""
        staged = self._staged()
        if staged:
            with atomic_output(self.path) as tmp_path:
                with h5py.File(tmp_path, "w") as out:
                    if os.path.exists(self.path):
                        with h5py.File(self.path, "r") as old:
                            for key in group_keys(old):
                                if key not in staged:  # a re-extracted video replaces its group
                                    old.copy(old[key], out, name=key)
                    for key, npz_path in staged.items():
                        group = out.create_group(key)
                        for name, value in read_npz(npz_path).items():
                            group.create_dataset(name, data=value)
            self._done |= set(staged)
        if os.path.isdir(self.staging):
            shutil.rmtree(self.staging, ignore_errors=True)

    def close(self):
        self.fold()


def remove_stale_temporaries_in(folder, base_name):
    """Delete ``folder``'s temporary copies of ``base_name`` left by killed runs."""
    for name in os.listdir(folder):
        if is_temporary_name(name) and name.endswith("." + base_name):
            if not _temporary_owner_alive(name):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(folder, name))


def group_keys(h5file):
    """Keys of the video groups in an HDF5 file: groups that hold a ``clips`` dataset."""
    keys = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and "clips" in obj:
            keys.append(name)

    h5file.visititems(visit)
    return keys


def read_h5_video(path, key):
    with h5py.File(path, "r") as f:
        group = f[key]
        return {name: group[name][()] for name in group}
