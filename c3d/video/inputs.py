"""Expanding command-line INPUTs (video files, folders, ``@list.txt``) into videos to process.

Each video gets a *key*: its path relative to the folder it was found under, with ``/``
separators. Outputs are named after keys (``OUTDIR/<key>.npz``, HDF5 group ``<key>``),
so the input folder structure is mirrored and two ``clip.mp4`` in different folders
never collide. The extension stays in the key (``a/clip.mp4`` → ``a/clip.mp4.npz``),
so ``clip.mp4`` and ``clip.avi`` side by side do not collide either.

- a folder: searched recursively for video files (hidden files and folders skipped,
  e.g. macOS ``._clip.mp4``); keys are relative to that folder. Symlinked folders are
  followed (a link back to a folder already searched is not: no loops); a folder that
  cannot be read is a problem, reported like a failed video.
- a file: taken as a video whatever its extension; its key is its file name.
- ``@list.txt``: one file or folder per line (blank lines and ``#`` comments ignored),
  relative paths taken relative to the list's folder; a listed file keeps its listed
  relative path as key (``a/clip.mp4``), an absolute one or one leading out of the
  list's folder gets its file name.

A path that does not exist is still returned (with a key), so that it is reported as a
failure with the other bad videos instead of stopping the run.
"""

import dataclasses
import os
import posixpath

from c3d.errors import C3DError
from c3d.video.decode import is_video_file


@dataclasses.dataclass(frozen=True)
class VideoInput:
    path: str  # where to read the video
    key: str  # relative output name, '/'-separated, e.g. 'a/clip.mp4'


def _is_hidden(name):
    return name.startswith(".")


def _identity(folder):
    try:
        status = os.stat(folder)
    except OSError:
        return folder
    return (status.st_dev, status.st_ino)


def videos_in_folder(folder, problems=None):
    """Yield the video files under ``folder`` (recursively, sorted) with their keys.

    Unreadable folders are appended to ``problems`` as "PATH: reason" lines.
    """
    seen = set()

    def unreadable(error):
        if problems is not None:
            problems.append(f"{error.filename}: cannot read this folder ({error.strerror})")

    for root, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        identity = _identity(root)
        if identity in seen:  # a symlink back to a folder already searched
            dirs.clear()
            continue
        seen.add(identity)
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
        for name in sorted(files):
            if _is_hidden(name) or not is_video_file(name):
                continue
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            yield VideoInput(path, relative.replace(os.sep, "/"))


def _listed_key(entry):
    """Key of a file named in a list: its relative path, unless that leads elsewhere."""
    if os.path.isabs(entry):
        return os.path.basename(entry)
    key = posixpath.normpath(entry.replace(os.sep, "/"))
    if key.startswith("../") or key in (".", ".."):
        return posixpath.basename(key)
    return key


def read_list(list_path):
    """The entries of a ``@list.txt`` as (path, key or None for folders)."""
    try:
        with open(list_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise C3DError(f"{list_path}: cannot read the list ({exc})") from None
    base = os.path.dirname(list_path)
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = entry if os.path.isabs(entry) else os.path.join(base, entry)
        yield path, _listed_key(entry)


def expand_inputs(args, unique_keys=True):
    """Return (videos, problems) for INPUT arguments, videos in the order given.

    ``problems`` are one-line failures to report ("PATH: reason"): a folder without
    videos, and with ``unique_keys`` (the videos' outputs are named by key) a video
    whose key another video already has. The same file reached twice (e.g. a folder
    and a file in it) is kept once, silently.
    """
    videos, problems = [], []
    by_key, seen = {}, set()
    for arg in args:
        arg = os.fspath(arg)
        if arg.startswith("@"):
            entries = read_list(arg[1:])
        else:
            entries = [(arg, os.path.basename(os.path.normpath(arg)))]
        for path, key in entries:
            if os.path.isdir(path):
                unreadable = []
                found = list(videos_in_folder(path, unreadable))
                problems += unreadable
                if not found and not unreadable:
                    problems.append(f"{path}: no video files in this folder")
            else:
                found = [VideoInput(path, key)]
            for video in found:
                identity = os.path.realpath(video.path)
                if identity in seen:
                    continue
                seen.add(identity)
                other = by_key.get(video.key) if unique_keys else None
                if other is not None:
                    problems.append(f"{video.path}: same output name {video.key!r} as {other.path}")
                    continue
                by_key[video.key] = video
                videos.append(video)
    return videos, problems
