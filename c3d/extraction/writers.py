"""Where extracted features go: one ``.npz`` per video, one HDF5 file (``h5store``), or the
layout a published method reads (``c3d.extraction.layouts``).

Every output is complete or absent: an interrupted run (Ctrl-C, ``kill -9``, a crash)
never leaves a truncated file under an output's name, so "the output exists" can mean
"this video is done" on the next run. Every output records the settings that made it
(``provenance``), checked before a video is skipped.

A writer: ``prepare()`` (checks the output can be written, before any model runs),
``recorded(keys)`` ({key: the settings its output records} for the keys that have one; {}
for files written before c3d recorded them), ``clashes(keys)`` (keys that cannot be
written), ``exists(key)`` (also done by another process meanwhile), ``write(key, arrays,
settings)``, ``close()``, ``describe()`` and ``claims_folder`` (``c3d.extraction.claims``).
A writer is picklable and ``write`` may be called in other processes than the one that
prepares and closes it (a Ray assembly task, ``c3d.extraction.engines.ray``): what it
writes there is complete or absent, and ``close()`` in the first process finishes the
output (an HDF5 file is packed there). Optionally ``expect(keys)``: the run's video keys
in the order given (before any work). A writer that cannot take a video's features
(Sultani's segments of a video under 16 frames) raises ``OutputRefused``: that video
fails, with the reason, and the run goes on.
"""

import os
import zipfile
import zlib

import numpy as np

from c3d.atomic import (
    FATAL_WRITE_ERRORS,
    atomic_output,
    check_folder_writable,
    remove_stale_temporaries,
)
from c3d.errors import C3DError
from c3d.extraction import provenance

ARRAY_NAMES = ("clips", "video", "starts", "fps", "n_frames", "padded")
RESAMPLED = "source_fps"  # one more array when the frames were resampled (--fps)
PROVENANCE = "provenance"  # the npz entry holding the settings, as JSON
SIDE_FOLDER = ".c3d"  # inside an npz output folder: claims


class OutputRefused(C3DError):
    """This output cannot take a video's features (the reason is one line, without a path)."""


def feature_arrays(clips, starts, fps, n_frames, padded, source_fps=None):
    """The arrays of one video's output; ``video`` = mean of the clips, L2-normalised.

    ``clips`` are (N, D), or (N, V, D) for V views a clip (ten crops): ``video`` (D,) is
    then the mean over every clip's every view. An all-zero mean (every clip's features
    zero, possible after a ReLU) stays zero. ``source_fps``: the video's own frame rate
    when its frames were resampled to ``fps`` (then an array of its own).
    """
    clips = np.asarray(clips, dtype=np.float32)
    mean = clips.reshape(-1, clips.shape[-1]).mean(axis=0, dtype=np.float64)
    arrays = {"clips": clips, **_summary_arrays(mean, starts, fps, n_frames, padded)}
    if source_fps is not None:
        arrays[RESAMPLED] = np.float64(source_fps)
    return arrays


def _summary_arrays(mean, starts, fps, n_frames, padded):
    """Every array of an output but ``clips``, from the (float64, (D,)) mean of the clips."""
    norm = np.linalg.norm(mean)
    video = mean / norm if norm > 0 else mean
    return {
        "video": video.astype(np.float32),
        "starts": np.asarray(starts, dtype=np.int64),
        "fps": np.float64(fps),
        "n_frames": np.int64(n_frames),
        "padded": np.bool_(padded),
    }


def key_path(folder, key, suffix):
    """``folder/<key><suffix>`` for a '/'-separated key."""
    return os.path.join(folder, *key.split("/")) + suffix


def write_npz(path, arrays, settings=None):
    """Write ``arrays`` (and ``settings`` as JSON under ``provenance``) atomically."""
    if settings is not None:
        arrays = {**arrays, PROVENANCE: np.array(provenance.to_json(settings))}
    with atomic_output(path) as tmp_path, open(tmp_path, "wb") as f:
        np.savez(f, **arrays)


# What numpy raises on a damaged npz: a cut or garbled zip (BadZipFile, EOFError), a
# garbled entry (ValueError, zlib.error), a file that is no npz (ValueError: pickled data).
NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def read_npz(path):
    """The arrays of an npz file, without its ``provenance``; a damaged file is one line."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files if name != PROVENANCE}
    except FileNotFoundError:
        raise
    except NPZ_ERRORS as exc:
        raise C3DError(f"{path}: not a readable features file ({exc})") from None


def npz_settings(path):
    """The settings an npz output records ({} if it records none)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if PROVENANCE not in data.files:
                return {}
            return provenance.from_json(str(data[PROVENANCE]), path)
    except NPZ_ERRORS as exc:
        raise C3DError(f"{path}: not a readable features file ({exc}); remove it") from None


def fatal_write_error(path, exc):
    """A C3DError to stop the run on a full or read-only disk, None for other errors."""
    if isinstance(exc, OSError) and exc.errno in FATAL_WRITE_ERRORS:
        return C3DError(f"{path}: cannot write ({os.strerror(exc.errno)})")
    return None


class NpzWriter:
    """One ``OUTDIR/<key>.npz`` per video."""

    def __init__(self, outdir):
        self.outdir = os.fspath(outdir)
        if os.path.exists(self.outdir) and not os.path.isdir(self.outdir):
            raise C3DError(f"{self.outdir}: exists and is not a folder")
        self.claims_folder = os.path.join(self.outdir, SIDE_FOLDER, "claims")

    def prepare(self):
        check_folder_writable(self.outdir, "features")
        remove_stale_temporaries(self.outdir)

    def describe(self):
        return self.outdir

    def path_for(self, key):
        return key_path(self.outdir, key, ".npz")

    def exists(self, key):
        return os.path.isfile(self.path_for(key))

    def recorded(self, keys):
        found = {}
        for key in keys:
            path = self.path_for(key)
            if os.path.isfile(path):
                found[key] = npz_settings(path)
        return found

    def clashes(self, keys):
        return {}  # a.mp4.npz and a.mp4/b.mp4.npz live side by side

    def write(self, key, arrays, settings=None):
        path = self.path_for(key)
        write_npz(path, arrays, settings)
        return path

    def close(self):
        pass
