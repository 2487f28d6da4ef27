"""One HDF5 file of features for many videos: safe to top up, to share between processes, to kill.

Layout, for ``-o features.h5``::

    features.h5                   the index: for each video key, an external link to the
                                  video's group in a shard, so h5py.File("features.h5")
                                  ["a/clip.mp4/clips"] reads through it; plus anything else
                                  the file held (root attributes, other groups and datasets:
                                  kept as they were)
    features.h5.c3d/shards/*.h5   the features: one shard per packing, written whole, never
                                  modified
    features.h5.c3d/staging/      finished videos not packed yet: one npz each, atomic
    features.h5.c3d/claims/       which process computes which video (``claims``)
    features.h5.c3d/lock          one packer at a time (``c3d.atomic.locked``)

Why: an HDF5 file being written is not consistent until it is closed, so appending in place
risks every group already in it on a kill; and writing a complete new file per run copies
all of it (21 s for 20,000 videos, 1 GB, to add one). Here a run stages its finished videos
and then packs them: a new shard holding only them, and a new index holding only links
(~100 bytes a video: 20,000 links take 0.8 s and 2 MB), each written to a temporary name and
renamed into place. A kill at any moment leaves the old index or the new one, complete; the
videos staged are packed by the next run (by any process), and a shard no index refers to (a
packer killed before its rename) is removed by the next packer. Any number of processes may
stage into the same file; only the packer holding the lock touches the index.

An index is only as good as its links: before a run adds to it, every shard it links to
must be there (``check_links``), so an index moved or copied without its ``.c3d`` folder
stops the run in one line naming the missing shard, instead of taking new videos beside
links that lead nowhere; ``--overwrite`` drops those links, and the run redoes the videos
it was given. Readers that name a video (``f["a/clip.mp4/clips"]``) follow the links;
readers that walk the file (``visititems``) do not, and a copy of the index alone holds
no features: ``c3d pack`` (``c3d.extraction.pack``) writes one plain file to share.

Files written by c3d before 1.1 held the videos' groups in the file itself: the first packing
moves them into a shard once, after which topping up no longer copies them.
"""

import contextlib
import datetime
import logging
import os
import secrets
import socket
import time

import h5py
import numpy as np

from c3d.atomic import (
    atomic_output,
    check_folder_writable,
    check_free_space,
    locked,
    remove_stale_temporaries,
    resolved_output,
)
from c3d.errors import C3DError
from c3d.extraction import provenance
from c3d.extraction.writers import (
    fatal_write_error,
    key_path,
    npz_settings,
    read_npz,
    write_npz,
)

SIDE_SUFFIX = ".c3d"
PACK_BYTES = 256 << 20  # pack during a run once this much is staged …
PACK_SECONDS = 600  # … or this long after the last packing, so the index shows progress


def _walk(group, prefix="", recursive=True):
    """Yield (path, kind, value) for every link under ``group``, external links not followed.

    kind: "external" (value: its file name), "soft", "group", "video" (a group holding a
    ``clips`` dataset: an embedded video of the layout before the index, not descended
    into) or "dataset".
    h5py's ``visititems_links`` resolves each name through ``Group.get``: 0.24 ms a link,
    4.8 s for an index of 20,000 videos; this low-level walk does the same in 0.3 s.
    """
    links = []
    group.id.links.iterate(lambda name, info: links.append((name, info.type)), info=True)
    for raw, kind in links:
        path = prefix + raw.decode("utf-8")
        if kind == h5py.h5l.TYPE_EXTERNAL:
            yield path, "external", group.id.links.get_val(raw)[0].decode("utf-8")
        elif kind == h5py.h5l.TYPE_SOFT:
            yield path, "soft", None
        else:
            obj = group[raw.decode("utf-8")]
            if _legacy_video(obj):
                yield path, "video", None
            elif isinstance(obj, h5py.Group):
                yield path, "group", None
                if recursive:
                    yield from _walk(obj, path + "/")
            else:
                yield path, "dataset", None


def _legacy_video(obj):
    """A video group embedded in the file (before the index layout): a group holding ``clips``."""
    return isinstance(obj, h5py.Group) and isinstance(obj.get("clips"), h5py.Dataset)


class H5Writer:
    """The features of many videos in one HDF5 file (see the module docstring)."""

    def __init__(self, path, overwrite=False):
        self.path = os.fspath(path)
        self.overwrite = overwrite  # links to missing shards are dropped, not refused
        if os.path.isdir(self.path):
            raise C3DError(f"{self.path}: is a folder; --format h5 writes one .h5 file")
        self.target = resolved_output(self.path)  # a symlinked output stays a symlink
        self.side = self.target + SIDE_SUFFIX
        self.shards = os.path.join(self.side, "shards")
        self.staging = os.path.join(self.side, "staging")
        self.claims_folder = os.path.join(self.side, "claims")
        folder = os.path.dirname(os.path.abspath(self.target))
        self._shard_prefix = os.path.relpath(self.shards, folder) + os.sep
        self._links = {}  # key -> shard file (relative to the index's folder)
        self._legacy = set()  # keys of video groups embedded in the index (the layout before it)
        self._staged_bytes = 0
        self._last_pack = time.monotonic()
        self._packer = os.getpid()  # the process that packs during a run (see ``write``)
        self._broken = set()  # keys whose shard is missing (dropped at the next packing)
        self._external = {}  # every external link of the index: path -> file

    # -- set-up and reading ----------------------------------------------------------
    def describe(self):
        return self.path

    def prepare(self):
        """Check that the file can be written, then pack what killed runs left staged."""
        folder = os.path.dirname(os.path.abspath(self.target))
        check_folder_writable(folder, "the HDF5 file")
        for sub in (self.shards, self.staging):
            check_folder_writable(sub, "the HDF5 file's shards")
        remove_stale_temporaries(self.side)
        remove_stale_temporaries(folder, recursive=False)
        with self._lock():
            self._read_index()  # a file that is no HDF5 fails here, before any work
            self.check_links()
        self.pack()

    def share_hint(self):
        """The summary's line on sharing the features (see the module docstring)."""
        return (
            f"{self.path} links into {os.path.basename(self.side)}/ (keep them together); "
            f"one self-contained file to share: c3d pack {self.path} -o FILE.h5"
        )

    def check_links(self):
        """Refuse an index with links to missing or unreadable shards, in one line naming
        the first; with ``overwrite``, mark those videos to be dropped instead.

        Each shard is opened once (a shard is written whole and never modified, so one
        that opens holds its videos).
        """
        folder = os.path.dirname(os.path.abspath(self.target))
        by_shard = {}
        for key, link in self._external.items():
            by_shard.setdefault(link, []).append(key)
        self._broken = set()
        for link, keys in sorted(by_shard.items()):
            reason = _shard_problem(os.path.join(folder, link))
            if reason is None:
                continue
            if not self.overwrite:
                raise C3DError(
                    f"{self.path}: {len(keys)} of its videos (e.g. {sorted(keys)[0]!r}) link to "
                    f"the shard {link}, which {reason}. Move or copy the index with its folder "
                    f"{os.path.basename(self.side)}/, or run with --overwrite to drop those "
                    "links and redo the videos this run is given"
                )
            logging.getLogger(__name__).warning(
                "%s: dropping the links of %d videos to the shard %s, which %s",
                self.path,
                len(keys),
                link,
                reason,
            )
            self._broken.update(keys)
        for key in self._broken:
            self._links.pop(key, None)

    def _open_index(self):
        try:
            return h5py.File(self.target, "r")
        except OSError as exc:
            raise C3DError(f"{self.path}: not a readable HDF5 file ({exc})") from None

    def _ours(self, filename):
        """Whether an external link's file name is one of this file's shards."""
        return (
            filename.startswith(self._shard_prefix)
            and "/" not in filename[len(self._shard_prefix) :]
        )

    def _read_index(self):
        """The video keys of the index file: our links, and embedded (legacy) video groups."""
        self._links, self._legacy, self._external = {}, set(), {}
        if not os.path.exists(self.target):
            return
        with self._open_index() as index:
            for path, kind, value in _walk(index):
                if kind == "external":
                    self._external[path] = value  # ours, or the user's: all must resolve
                if kind == "external" and self._ours(value):
                    self._links[path] = value
                elif kind == "video":
                    self._legacy.add(path)

    def _staged(self):
        """{key: staged npz path} of the videos waiting to be packed."""
        staged = {}
        for root, dirs, files in os.walk(self.staging):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".npz") and not name.startswith(".tmp-"):
                    path = os.path.join(root, name)
                    key = os.path.relpath(path, self.staging)[: -len(".npz")]
                    staged[key.replace(os.sep, "/")] = path
        return staged

    def _staged_path(self, key):
        return key_path(self.staging, key, ".npz")

    def exists(self, key):
        """Whether ``key`` is done, also by another process since this one looked."""
        if os.path.isfile(self._staged_path(key)) or key in self._links or key in self._legacy:
            return True
        if not os.path.exists(self.target):
            return False
        with self._open_index() as index:  # a packer may have moved it from staging
            return index.get(key, getlink=True) is not None

    def recorded(self, keys):
        """{key: recorded settings} for the ``keys`` already in the file ({}: none recorded)."""
        found, staged = {}, self._staged()
        by_shard = {}
        for key in keys:
            if key in staged:
                found[key] = npz_settings(staged[key])
            elif key in self._legacy:
                found[key] = {}
            elif key in self._links:
                by_shard.setdefault(self._links[key], []).append(key)
        folder = os.path.dirname(self.target)
        for shard_link, shard_keys in by_shard.items():  # each shard opened once
            shard_path = os.path.join(folder, shard_link)
            try:
                with h5py.File(shard_path, "r") as shard:
                    for key in shard_keys:
                        text = shard[key].attrs.get(provenance.PROVENANCE_ATTR)
                        where = f"{self.path}:{key}"
                        found[key] = {} if text is None else provenance.from_json(text, where)
            except (OSError, KeyError) as exc:
                raise C3DError(
                    f"{shard_path}: a shard of {self.path} is unreadable ({exc})"
                ) from None
        return found

    def clashes(self, keys):
        """{key: what it cannot sit beside} for ``keys`` that do not fit this file's hierarchy.

        HDF5 keys are paths: a video ``a.mp4`` and a video ``a.mp4/b.mp4`` (a folder named
        like a video) cannot both exist, nor a video where the file holds other data.
        """
        keys = list(keys)
        taken = set(self._links) | self._legacy | set(self._staged())
        found = {}
        if os.path.exists(self.target):
            with self._open_index() as index:
                for key in keys:
                    other = None if key in taken else _other_data(index, key, self._ours)
                    if other is not None:
                        found[key] = f"other data at {other!r}"
        every = taken | {key for key in keys if key not in found}
        parents = {"/".join(k.split("/")[:d]) for k in every for d in range(1, k.count("/") + 1)}
        for key in keys:
            if key in found:
                continue
            parts = key.split("/")
            above = ["/".join(parts[:d]) for d in range(1, len(parts))]
            clash = next((p for p in above if p in every), None)
            if clash is not None:
                found[key] = f"the video {clash!r}"
            elif key in parents:
                below = sorted(k for k in every if k.startswith(key + "/"))
                found[key] = f"the video {below[0]!r}"
        return found

    # -- writing ---------------------------------------------------------------------
    def write(self, key, arrays, settings=None):
        """Stage one video (atomically); pack when enough is staged or time has passed.

        Only in the process that made this writer: a copy in another process (a Ray
        assembly task) only stages, and the first one packs at ``close()``.
        """
        path = self._staged_path(key)
        write_npz(path, arrays, settings)
        if os.getpid() != self._packer:
            return self.path
        self._staged_bytes += os.path.getsize(path)
        if self._staged_bytes >= PACK_BYTES or time.monotonic() - self._last_pack >= PACK_SECONDS:
            self.pack()
        return self.path

    def close(self):
        self.pack()

    def _lock(self):
        return locked(self.side)

    def pack(self):
        """Move the staged videos (of every process) into a new shard and a new index."""
        with self._lock():
            self._read_index()
            for key in self._broken:  # dropped by check_links (--overwrite)
                self._links.pop(key, None)
            staged = self._staged()
            if staged or self._legacy or self._broken:
                try:
                    self._pack(staged)
                except OSError as exc:
                    fatal = fatal_write_error(self.path, exc)
                    if fatal is not None:
                        raise fatal from None
                    raise C3DError(f"{self.path}: cannot write it ({exc})") from None
                for path in staged.values():
                    with contextlib.suppress(OSError):
                        os.remove(path)
                _remove_empty_folders(self.staging)
        self._staged_bytes = 0
        self._last_pack = time.monotonic()

    def _pack(self, staged):
        needed = sum(os.path.getsize(p) for p in staged.values()) + (64 << 10)
        if os.path.exists(self.target):
            needed += 2 * os.path.getsize(self.target)  # legacy groups move, the index is new
        check_free_space(self.target, needed)
        # Unique: a shard is never replaced (links in the index point into it).
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}.h5"
        shard_path = os.path.join(self.shards, name)
        shard_link = os.path.relpath(shard_path, os.path.dirname(self.target))
        old = h5py.File(self.target, "r") if os.path.exists(self.target) else None
        try:
            moved = sorted(self._legacy - set(staged))
            with atomic_output(shard_path) as tmp:
                shard = h5py.File(tmp, "w")
                try:
                    for key in moved:
                        old.copy(old[key], shard, name=key)
                    for key, path in staged.items():
                        _write_group(shard, key, read_npz(path), npz_settings(path))
                finally:
                    shard.close()  # an explicit close: h5py fails cleanly on a full disk
            added = {key: shard_link for key in [*moved, *staged]}
            with atomic_output(self.path) as tmp:
                index = h5py.File(tmp, "w")
                try:
                    if old is not None:
                        replaced = (set(added) & set(self._links)) | self._broken
                        _copy_index(old, index, replaced, self._legacy)
                    for key, link in sorted(added.items()):
                        index[key] = h5py.ExternalLink(link, "/" + key)
                finally:
                    index.close()
        finally:
            if old is not None:
                old.close()
        self._links.update(added)
        self._legacy = set()
        self._broken = set()
        self._remove_orphan_shards()

    def _remove_orphan_shards(self):
        """Delete shards the index no longer refers to (a packer killed before its rename)."""
        used = {os.path.basename(link) for link in self._links.values()}
        for name in os.listdir(self.shards):
            if name.endswith(".h5") and name not in used:
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.shards, name))


def _other_data(index, key, ours):
    """The path of something not ours on ``key``'s way in the index (a dataset, a link)."""
    parts = key.split("/")
    for depth in range(1, len(parts) + 1):
        name = "/".join(parts[:depth])
        link = index.get(name, getlink=True)
        if link is None or (isinstance(link, h5py.ExternalLink) and ours(link.filename)):
            return None  # free, or a video of ours: the clash between videos is found apart
        if not isinstance(link, h5py.HardLink) or not isinstance(index[name], h5py.Group):
            return name
    return key  # a group of the user's exactly where the video would go


def _write_group(h5file, key, arrays, settings):
    group = h5file.create_group(key)
    for name, value in arrays.items():
        group.create_dataset(name, data=value)
    if settings:
        group.attrs[provenance.PROVENANCE_ATTR] = provenance.to_json(settings)


def _copy_index(old, new, replaced, legacy):
    """Everything of the old index but the links of ``replaced`` keys and ``legacy`` videos.

    A top-level group holding neither is copied whole by HDF5 (``H5Ocopy`` keeps external
    and soft links as links): the index of 20,000 videos in 100 folders copies in 0.1 s.
    """
    for name, value in old.attrs.items():
        new.attrs[name] = value
    skip = set(replaced) | set(legacy)

    def copy(src, dst, prefix):
        for path, kind, value in _walk(src, prefix, recursive=False):
            name = path[len(prefix) :]
            if path in skip:
                continue
            if kind == "external":
                dst.id.links.create_external(name.encode(), value.encode(), b"/" + path.encode())
            elif kind == "soft":
                dst[name] = h5py.SoftLink(src.get(name, getlink=True).path)
            elif kind == "group" and not any(key.startswith(path + "/") for key in skip):
                src.copy(name, dst, name=name)  # the whole subtree, in C
            elif kind == "group":
                group = dst.require_group(name)
                for attr, attr_value in src[name].attrs.items():
                    group.attrs[attr] = attr_value
                copy(src[name], group, path + "/")
            elif kind == "dataset":
                src.copy(name, dst, name=name)

    copy(old, new, "")


def _remove_empty_folders(root):
    for folder, _, _ in sorted(os.walk(root), key=lambda item: -len(item[0])):
        if folder != root:
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def _shard_problem(path):
    """None if the shard at ``path`` opens as HDF5, else what is wrong with it (words)."""
    if not os.path.isfile(path):
        return "is missing"
    try:
        with h5py.File(path, "r"):
            return None
    except OSError as exc:
        return f"is unreadable ({one_line(exc)})"


def one_line(exc):
    """An exception's message on one line (HDF5's can span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def reading(path, what="features HDF5 file"):
    """``h5py.File(path, "r")``; a file that is no HDF5, or breaks while read, is one line."""
    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise C3DError(f"{path}: not a readable HDF5 file ({one_line(exc)})") from None
    try:
        with f:
            yield f
    except (OSError, KeyError, RuntimeError) as exc:  # a damaged block, a broken link
        raise C3DError(f"{path}: not a readable {what} ({one_line(exc)})") from None


def group_keys(path):
    """The video keys of a features HDF5 file, whatever wrote it (sorted)."""
    with reading(path) as f:
        keys = []
        for key, kind, _ in _walk(f):
            if kind == "video" or (kind == "external" and "clips" in f[key]):
                keys.append(key)
    return sorted(keys)


def read_h5_video(path, key):
    """The arrays of one video of a features HDF5 file."""
    with reading(path) as f:
        group = f[key]
        return {name: np.asarray(group[name][()]) for name in group}
