"""Labelled video sets: class folders or UCF101 split lists -> (path, label) lists.

Layouts understood:

- a folder with one sub-folder of videos per class (UCF101's ``UCF-101/``); classes
  are the sub-folder names, sorted;
- UCF101 split lists, relative to that folder: ``trainlist01.txt`` lines
  ``Class/v_x.avi 1`` (1-based label), ``testlist01.txt`` lines ``Class/v_x.avi``
  (label from the folder), with ``classInd.txt`` lines ``1 ClassName``.

A run dir stores its sets in the same list format (absolute paths), so they can be
read back by ``--list``.
"""

import dataclasses
import logging
import os
import random
import re
import threading

from c3d.errors import C3DError
from c3d.video.decode import is_video_file

log = logging.getLogger(__name__)


@dataclasses.dataclass
class VideoSet:
    """Videos with integer labels indexing ``class_names``."""

    paths: list
    labels: list
    class_names: list

    def __len__(self):
        return len(self.paths)

    def subset(self, indices):
        return VideoSet(
            [self.paths[i] for i in indices], [self.labels[i] for i in indices], self.class_names
        )

    def relabel(self, class_names, source):
        """The same videos labelled by their class *names* in another class list."""
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({self.class_names[label] for label in self.labels} - set(index))
        if unknown:
            raise C3DError(
                f"{source}: classes not in the class list: "
                + ", ".join(unknown[:5])
                + (" …" if len(unknown) > 5 else "")
            )
        labels = [index[self.class_names[label]] for label in self.labels]
        return VideoSet(list(self.paths), labels, list(class_names))


class DecodeFailures:
    """Videos of a set that could not be decoded: each is warned about once, all are counted."""

    def __init__(self):
        self._reasons = {}
        self._lock = threading.Lock()

    def record(self, path, reason):
        with self._lock:
            first = path not in self._reasons
            self._reasons[path] = reason
        if first:
            log.warning("skipping a video that cannot be decoded: %s", reason)

    def __len__(self):
        with self._lock:
            return len(self._reasons)

    @property
    def reasons(self):
        with self._lock:
            return dict(self._reasons)


def _probe(path):
    """None if the video opens and yields a frame, else the one-line reason it does not."""
    from c3d.video.decode import VideoError, open_video

    try:
        capture = open_video(path)
    except VideoError as exc:
        return str(exc)
    try:
        ok, frame = capture.read()
    except Exception as exc:  # a corrupt file can make OpenCV raise anything
        return f"{path}: {exc}"
    finally:
        capture.release()
    return None if ok and frame is not None else f"{path}: no frames could be decoded"


def check_trainable(video_set, source, workers=None):
    """Refuse data a classifier cannot be trained on, in one line naming the class.

    Fewer than 2 classes (a 1-way softmax is "right" on every clip), or a class none of
    whose training videos decodes (it would have no step, and an epoch of no steps still
    reports a best epoch). Each video is opened and its first frame decoded, in parallel.
    """
    import concurrent.futures

    from tqdm import tqdm

    from c3d.runtime import available_cpus

    names = video_set.class_names
    if len(names) < 2:
        listed = ", ".join(repr(n) for n in names) or "none"
        raise C3DError(f"{source}: {len(names)} class ({listed}); training needs at least 2")
    workers = workers or 2 * available_cpus()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        reasons = list(
            tqdm(
                pool.map(_probe, video_set.paths),
                total=len(video_set),
                desc="checking videos",
                unit="video",
                disable=None,
            )
        )
    for label, name in enumerate(names):
        mine = [r for r, lab in zip(reasons, video_set.labels, strict=True) if lab == label]
        if not mine:
            raise C3DError(f"{source}: class {name!r} has no training video")
        if all(mine):
            raise C3DError(
                f"{source}: class {name!r} has no decodable training video "
                f"({len(mine)} tried; e.g. {mine[0]})"
            )


def class_folders(root):
    """A folder of class sub-folders -> VideoSet (classes sorted by name, videos by path)."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise C3DError(f"{root}: no such folder")
    names = sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if not names:
        raise C3DError(f"{root}: no class sub-folders (expected one folder of videos per class)")
    paths, labels = [], []
    for label, name in enumerate(names):
        folder = os.path.join(root, name)
        videos = sorted(f for f in os.listdir(folder) if is_video_file(f))
        paths += [os.path.join(folder, f) for f in videos]
        labels += [label] * len(videos)
    if not paths:
        raise C3DError(f"{root}: the class folders hold no videos")
    return VideoSet(paths, labels, names)


def read_class_index(path):
    """UCF101 ``classInd.txt`` (``1 ApplyEyeMakeup`` …) -> class names in label order."""
    entries = {}
    for number, fields in _list_lines(path):
        if len(fields) != 2 or not fields[0].isdigit():
            raise C3DError(f"{path}:{number}: expected 'INDEX CLASSNAME', got {' '.join(fields)!r}")
        entries[int(fields[0])] = fields[1]
    if sorted(entries) != list(range(1, len(entries) + 1)):
        raise C3DError(f"{path}: class indices must run 1..N without gaps")
    if not entries:
        raise C3DError(f"{path}: no classes listed")
    return [entries[i] for i in range(1, len(entries) + 1)]


def read_split_list(path, root, class_names):
    """A UCF101 split list -> VideoSet; entries are relative to ``root`` (or absolute).

    A line's label is its 1-based number when given (trainlist), else its folder name.
    """
    root = os.fspath(root)
    index = {name: i for i, name in enumerate(class_names)}
    paths, labels, missing = [], [], []
    for number, fields in _list_lines(path):
        if len(fields) > 2:
            raise C3DError(f"{path}:{number}: expected 'Class/video.avi [LABEL]'")
        entry = fields[0]
        if len(fields) == 2:
            if not fields[1].isdigit() or not 1 <= int(fields[1]) <= len(class_names):
                raise C3DError(
                    f"{path}:{number}: label {fields[1]!r} is not in 1..{len(class_names)}"
                )
            label = int(fields[1]) - 1
        else:
            folder = os.path.basename(os.path.dirname(entry))
            if folder not in index:
                raise C3DError(f"{path}:{number}: class {folder!r} is not in the class list")
            label = index[folder]
        video = os.path.normpath(os.path.join(root, entry))
        if not os.path.isfile(video):
            missing.append((number, video))
        paths.append(video)
        labels.append(label)
    if not paths:
        raise C3DError(f"{path}: no videos listed")
    if missing:
        number, video = missing[0]
        raise C3DError(
            f"{path}:{number}: {video}: no such file ({len(missing)} of {len(paths)} listed "
            f"videos missing; entries are relative to {root})"
        )
    return VideoSet(paths, labels, list(class_names))


def write_split_list(video_set, path):
    """Write a VideoSet as a trainlist (``/abs/path.avi LABEL``, 1-based), atomically."""
    from c3d.atomic import atomic_output

    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for video, label in zip(video_set.paths, video_set.labels, strict=True):
            out.write(f"{os.path.abspath(video)} {label + 1}\n")


def write_class_index(class_names, path):
    """Write class names as UCF101's ``classInd.txt``, atomically."""
    from c3d.atomic import atomic_output

    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for number, name in enumerate(class_names, start=1):
            out.write(f"{number} {name}\n")


# UCF101 names clips v_Class_gGG_cCC: clips of one group are cut from one long video.
_GROUP = re.compile(r"_g(\d+)_c\d+$")


def _group_key(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    match = _GROUP.search(stem)
    return match.group(1) if match else stem


def holdout_split(video_set, fraction, seed):
    """Split off about ``fraction`` of each class for validation, deterministically by ``seed``.

    Clips of one UCF101 group (``_gNN_``) stay on one side, so validation never sees a
    clip cut from a video it trained on. Each class with at least two groups gives one
    or more groups to validation.
    """
    if not 0 < fraction < 1:
        raise C3DError(f"--val-fraction must be between 0 and 1, got {fraction}")
    train, val = [], []
    for label in range(len(video_set.class_names)):
        groups = {}
        for i, (path, lab) in enumerate(zip(video_set.paths, video_set.labels, strict=True)):
            if lab == label:
                groups.setdefault(_group_key(path), []).append(i)
        keys = sorted(groups)
        random.Random(f"{seed}:{video_set.class_names[label]}").shuffle(keys)
        count = min(len(keys) - 1, max(1, round(fraction * len(keys)))) if len(keys) > 1 else 0
        for position, key in enumerate(keys):
            (val if position < count else train).extend(groups[key])
    return video_set.subset(sorted(train)), video_set.subset(sorted(val))


def resolve_training_data(
    data,
    train_list=None,
    val_list=None,
    classes=None,
    val_dir=None,
    val_fraction=0.1,
    seed=0,
):
    """The training and validation VideoSets of ``c3d train``'s data options."""
    data = os.fspath(data)
    if (train_list or val_list) and not classes:
        raise C3DError("--train-list/--val-list need --classes (UCF101's classInd.txt)")
    if val_list and val_dir:
        raise C3DError("give either --val-list or --val-dir, not both")
    if classes:
        class_names = read_class_index(classes)
        train = (
            read_split_list(train_list, data, class_names)
            if train_list
            else class_folders(data).relabel(class_names, data)
        )
    else:
        train = class_folders(data)
        class_names = train.class_names
    if val_list:
        val = read_split_list(val_list, data, class_names)
    elif val_dir:
        val = class_folders(val_dir).relabel(class_names, val_dir)
    else:
        train, val = holdout_split(train, val_fraction, seed)
        if not len(val):
            raise C3DError(
                f"{data}: too few videos to hold out a validation set; give --val-dir or --val-list"
            )
    return train, val


def _list_lines(path):
    """(line number, whitespace-split fields) of the non-blank lines of a text file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise C3DError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise C3DError(f"{path}: cannot read ({exc})") from None
    return [(n, line.split()) for n, line in enumerate(lines, start=1) if line.strip()]
