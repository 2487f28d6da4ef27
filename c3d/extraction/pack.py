"""One plain HDF5 file from a features index: ``c3d pack feats.h5 -o features.h5``.

``c3d extract --format h5`` (and ``--preset activitynet``) write an index of external links
into shards beside it (``c3d.extraction.h5store``): safe to top up, share between processes
and kill, but two kinds of reader see nothing there: one that walks the file
(``visititems`` does not follow external links) and one that got the index alone (mailed,
uploaded, copied without its ``.c3d`` folder). The packed file holds real groups and
datasets under the same keys, with the same attributes (``provenance``) and anything else the
index held (root attributes, the user's own groups and datasets), so both see everything.

It streams: each video's group is copied by HDF5 (``H5Ocopy``, in C) from its shard into
the new file, one video at a time, so memory does not grow with the index (a 20,000-video
index packs in bounded memory, see ``make bench``). The file is written to a temporary
name and renamed when complete (``c3d.atomic``): an interrupted pack leaves no half file.
"""

import os

import h5py

from c3d.atomic import atomic_output, check_free_space, resolved_output
from c3d.errors import C3DError
from c3d.extraction.h5store import H5Writer, _shard_problem, _walk, one_line, reading


def _plan(index, folder):
    """(videos, other entries) of an open index: what to copy, in the order of the walk.

    Each entry is (path, kind, value) from ``h5store._walk``; a link to a missing or
    unreadable file is refused here, before anything is written, naming it.
    """
    entries = list(_walk(index))
    problems = {}
    for path, kind, value in entries:
        if kind == "external" and value not in problems:
            problems[value] = _shard_problem(os.path.join(folder, value))
            if problems[value] is not None:
                raise C3DError(
                    f"{index.filename}: its video {path!r} links to {value}, which "
                    f"{problems[value]}; pack the index where its shards are"
                )
    return entries


def pack(index_path, output, progress=None):
    """Write ``output``: the index ``index_path`` with every link replaced by what it links
    to. Returns the number of videos (linked or embedded groups holding ``clips``).

    ``progress(total)``: a progress bar (``update``, ``close``) over the ``total`` links and
    groups to copy, made once the index is checked (a refusal comes alone, without a bar).
    """
    index_path, output = os.fspath(index_path), os.fspath(output)
    if not os.path.isfile(index_path):
        raise C3DError(f"{index_path}: no such file")
    if os.path.exists(output) and os.path.samefile(resolved_output(output), index_path):
        raise C3DError(f"{output}: is the index itself; give another output file")
    folder = os.path.dirname(os.path.abspath(resolved_output(index_path)))
    videos = 0
    with reading(index_path, "features index") as index:
        entries = _plan(index, folder)
        shards = {value for _, kind, value in entries if kind == "external"}
        needed = os.path.getsize(index_path) + sum(
            os.path.getsize(os.path.join(folder, shard)) for shard in shards
        )
        check_free_space(output, needed)
        copies = sum(kind in ("external", "video", "dataset") for _, kind, _ in entries)
        bar = progress(copies) if progress is not None else None
        try:
            with atomic_output(output) as tmp:
                packed = h5py.File(tmp, "w")
                try:
                    for name, value in index.attrs.items():
                        packed.attrs[name] = value
                    for path, kind, _ in entries:
                        if kind == "group":
                            group = packed.require_group(path)
                            for name, value in index[path].attrs.items():
                                group.attrs[name] = value
                        elif kind == "soft":
                            packed[path] = h5py.SoftLink(index.get(path, getlink=True).path)
                        else:  # a linked or embedded video, or a dataset: copied whole, in C
                            parent, _, name = path.rpartition("/")
                            target = packed.require_group(parent) if parent else packed
                            source = index[path]
                            videos += kind == "video" or (
                                kind == "external"
                                and isinstance(source, h5py.Group)
                                and "clips" in source
                            )
                            index.copy(source, target, name=name)
                            # Dropped now, not at the next video's: an object of a shard
                            # held while the next is opened made RSS grow by 19 kB a video
                            # (460 MB for 20,000; 90 MB flat without it).
                            del source
                            if bar is not None:
                                bar.update(1)
                finally:
                    packed.close()
        except OSError as exc:
            if getattr(exc, "errno", None) is not None and exc.filename:
                raise
            raise C3DError(f"{output}: cannot write it ({one_line(exc)})") from None
        finally:
            if bar is not None:
                bar.close()
    return videos


def staged_videos(index_path):
    """How many finished videos wait in the index's staging folder (not yet linked)."""
    writer = H5Writer(index_path)
    return len(writer._staged()) if os.path.isdir(writer.staging) else 0
