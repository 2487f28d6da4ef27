"""``--preset activitynet``: C3D features as ActivityNet Captions and THUMOS14 codes read them.

The ActivityNet challenge (2016) shipped C3D features made so: fc7 (post-ReLU) of 16-frame
clips every 8 frames, reduced to 500 dimensions with a PCA (``c3d.extraction.pca``), one
HDF5 file with a group per video named by its id (``v_`` + YouTube id) holding a dataset
``c3d_features`` (T, 500) — read as ``h5py.File(f)[video_id]['c3d_features']`` (see
activitynet/ActivityNet#8, cabaf/sparseprop#1; DenseVideoCaptioning, SST, DAPs, 2D-TAN read
it the same way).

Here: group ``v_<stem>`` (``v_`` added when the file name lacks it) per video, dataset
``c3d_features`` float32 (T, 500) = ``(fc7 - x_mean) @ U[:, :500]`` of ``--pca FILE``. The
file is ``c3d.extraction.h5store``'s: an index whose groups are external links into shards
in ``OUT.c3d/shards/`` (resumable, shared between processes, never half-written); h5py
follows the links, so readers that name a group see plain groups; ``c3d pack OUT -o FILE``
writes the one self-contained file to share (the summary says so), which readers that walk
the file (``visititems``) need. Each group records the settings and the
video's facts in its attribute ``provenance`` (readers take only ``c3d_features``).
"""

import os

import numpy as np

from c3d.errors import C3DError
from c3d.extraction.h5store import H5Writer
from c3d.extraction.layouts import PCA_DIMS, stem, video_facts
from c3d.extraction.writers import OutputRefused

DATASET = "c3d_features"
PREFIX = "v_"


def group_name(key):
    """``a/abc.mp4`` → ``v_abc``; ``v_abc.mp4`` → ``v_abc`` (ActivityNet's ids)."""
    name = stem(key)
    return name if name.startswith(PREFIX) else PREFIX + name


class ActivityNetWriter:
    """One HDF5 file of ``v_<stem>/c3d_features`` (see the module docstring)."""

    def __init__(self, path, pca, dims=PCA_DIMS, overwrite=False):
        if os.path.isdir(path):
            raise C3DError(
                f"{path}: is a folder; --preset activitynet writes one HDF5 file "
                "(e.g. -o sub_activitynet_v1-3.c3d.hdf5)"
            )
        self.h5 = H5Writer(path, overwrite=overwrite)
        self.pca = pca
        self.dims = dims
        self.claims_folder = self.h5.claims_folder

    def describe(self):
        return self.h5.describe()

    def prepare(self):
        self.h5.prepare()

    def exists(self, key):
        return self.h5.exists(group_name(key))

    def recorded(self, keys):
        names = {key: group_name(key) for key in keys}
        found = self.h5.recorded(names.values())
        return {key: found[name] for key, name in names.items() if name in found}

    def clashes(self, keys):
        """Keys whose group another video of this run, or an earlier one, has (or that the
        file's hierarchy cannot take)."""
        keys = list(keys)
        found, owners = {}, {}
        for key in keys:
            name = group_name(key)
            if name in owners:
                found[key] = f"{owners[name]} (both are group {name})"
            else:
                owners[name] = key
        for key, recorded in self.recorded(owners.values()).items():
            earlier = recorded.get("video", {}).get("key")
            if earlier is not None and earlier != key:
                found[key] = f"{earlier}, whose features group {group_name(key)} already holds"
        by_name = {group_name(key): key for key in owners.values() if key not in found}
        for name, reason in self.h5.clashes(by_name).items():
            found[by_name[name]] = reason
        return found

    def write(self, key, arrays, settings=None):
        clips = np.asarray(arrays["clips"])
        if clips.ndim != 2 or clips.shape[1] != self.pca.dims:
            raise OutputRefused(
                f"the PCA file takes features of {self.pca.dims} values; got {clips.shape}"
            )
        features = {DATASET: self.pca.project(clips, self.dims)}
        if settings is not None:
            settings = {**settings, "video": video_facts(key, arrays)}
        return self.h5.write(group_name(key), features, settings)

    def close(self):
        self.h5.close()

    def share_hint(self):
        """The summary's line on sharing: the file is an index of links (``c3d pack``)."""
        return self.h5.share_hint()
