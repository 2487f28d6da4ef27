"""Labelled video sets: class folders, UCF101 split lists, the held-out split."""

import pytest

from c3d.errors import C3DError
from c3d.training.datasets import (
    class_folders,
    holdout_split,
    read_class_index,
    read_split_list,
    resolve_training_data,
    write_class_index,
    write_split_list,
)


def _touch_videos(root, layout):
    """layout: {class: [file names]} -> creates empty files (decoding is not needed here)."""
    for name, files in layout.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for file in files:
            (root / name / file).write_bytes(b"")
    return root


def _ucf_names(name, groups, clips=2):
    return [
        f"v_{name}_g{g:02d}_c{c:02d}.avi" for g in range(1, groups + 1) for c in range(1, clips + 1)
    ]


def test_class_folders_sorted_classes_and_only_videos(tmp_path):
    _touch_videos(
        tmp_path, {"b": ["2.avi", "1.mp4", "notes.txt"], "a": ["x.avi"], ".hidden": ["y.avi"]}
    )
    videos = class_folders(tmp_path)
    assert videos.class_names == ["a", "b"]
    assert [p.split("/")[-2:] for p in videos.paths] == [
        ["a", "x.avi"],
        ["b", "1.mp4"],
        ["b", "2.avi"],
    ]
    assert videos.labels == [0, 1, 1]


def test_class_folders_errors(tmp_path):
    with pytest.raises(C3DError, match="no such folder"):
        class_folders(tmp_path / "missing")
    with pytest.raises(C3DError, match="no class sub-folders"):
        class_folders(tmp_path)
    _touch_videos(tmp_path, {"a": ["readme.txt"]})
    with pytest.raises(C3DError, match="hold no videos"):
        class_folders(tmp_path)


def test_ucf101_lists(tmp_path):
    root = _touch_videos(
        tmp_path / "UCF-101",
        {"Archery": ["v_Archery_g01_c01.avi"], "Bowling": ["v_Bowling_g01_c01.avi"]},
    )
    (tmp_path / "classInd.txt").write_text("1 Archery\n2 Bowling\n\n")
    (tmp_path / "trainlist01.txt").write_text(
        "Bowling/v_Bowling_g01_c01.avi 2\nArchery/v_Archery_g01_c01.avi 1\n"
    )
    (tmp_path / "testlist01.txt").write_text("Bowling/v_Bowling_g01_c01.avi\n")
    names = read_class_index(tmp_path / "classInd.txt")
    assert names == ["Archery", "Bowling"]
    train = read_split_list(tmp_path / "trainlist01.txt", root, names)
    assert train.labels == [1, 0]
    assert train.paths[0] == str(root / "Bowling" / "v_Bowling_g01_c01.avi")
    test = read_split_list(tmp_path / "testlist01.txt", root, names)
    assert test.labels == [1]

    # What a run dir writes reads back the same (absolute paths, any root).
    write_split_list(train, tmp_path / "run" / "train_list.txt")
    write_class_index(names, tmp_path / "run" / "classes.txt")
    again = read_split_list(
        tmp_path / "run" / "train_list.txt",
        "/elsewhere",
        read_class_index(tmp_path / "run" / "classes.txt"),
    )
    assert (again.paths, again.labels) == (train.paths, train.labels)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Archery/v_Archery_g01_c01.avi 3\n", "label '3' is not in 1..2"),
        ("Curling/v_Curling_g01_c01.avi\n", "class 'Curling' is not in the class list"),
        ("Archery/v_Archery_g09_c01.avi 1\n", "no such file"),
        ("\n", "no videos listed"),
    ],
)
def test_split_list_errors_name_the_line(tmp_path, text, message):
    _touch_videos(tmp_path, {"Archery": ["v_Archery_g01_c01.avi"]})
    (tmp_path / "list.txt").write_text(text)
    with pytest.raises(C3DError, match=message):
        read_split_list(tmp_path / "list.txt", tmp_path, ["Archery", "Bowling"])


def test_class_index_errors(tmp_path):
    (tmp_path / "gap.txt").write_text("1 A\n3 C\n")
    with pytest.raises(C3DError, match="without gaps"):
        read_class_index(tmp_path / "gap.txt")
    (tmp_path / "bad.txt").write_text("A 1\n")
    with pytest.raises(C3DError, match=r"bad.txt:1: expected 'INDEX CLASSNAME'"):
        read_class_index(tmp_path / "bad.txt")
    with pytest.raises(C3DError, match="no such file"):
        read_class_index(tmp_path / "missing.txt")


def test_holdout_split_is_deterministic_stratified_and_keeps_groups_together(tmp_path):
    _touch_videos(tmp_path, {"A": _ucf_names("A", groups=10), "B": _ucf_names("B", groups=5)})
    videos = class_folders(tmp_path)
    train, val = holdout_split(videos, 0.2, seed=3)
    again_train, again_val = holdout_split(videos, 0.2, seed=3)
    assert (train.paths, val.paths) == (again_train.paths, again_val.paths)
    assert sorted(train.paths + val.paths) == sorted(videos.paths)
    # 20% of 10 groups of A, and at least one of B's 5 groups, each with both its clips.
    val_groups = {p.rsplit("_c", 1)[0] for p in val.paths}
    train_groups = {p.rsplit("_c", 1)[0] for p in train.paths}
    assert not val_groups & train_groups
    assert sorted(val.class_names[label] for label in val.labels) == ["A"] * 4 + ["B"] * 2
    other_train, other_val = holdout_split(videos, 0.2, seed=4)
    assert len(other_val) == len(val)
    assert (other_train.paths, other_val.paths) != (train.paths, val.paths)


def test_resolve_training_data_options(tmp_path):
    _touch_videos(tmp_path / "train", {"A": _ucf_names("A", 5), "B": _ucf_names("B", 5)})
    _touch_videos(tmp_path / "val", {"B": ["b.avi"]})
    train, val = resolve_training_data(tmp_path / "train", val_dir=tmp_path / "val")
    assert len(train) == 20 and val.labels == [1] and val.class_names == ["A", "B"]
    train, val = resolve_training_data(tmp_path / "train", val_fraction=0.2, seed=0)
    assert len(train) + len(val) == 20 and set(val.labels) == {0, 1}
    _touch_videos(tmp_path / "val2", {"C": ["c.avi"]})
    with pytest.raises(C3DError, match="classes not in the class list: C"):
        resolve_training_data(tmp_path / "train", val_dir=tmp_path / "val2")
    with pytest.raises(C3DError, match="need --classes"):
        resolve_training_data(tmp_path / "train", train_list=tmp_path / "x.txt")
    _touch_videos(tmp_path / "tiny", {"A": ["a.avi"]})
    with pytest.raises(C3DError, match="too few videos to hold out"):
        resolve_training_data(tmp_path / "tiny")
