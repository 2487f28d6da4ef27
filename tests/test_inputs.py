"""INPUT expansion: folders (recursive), files, @lists; output keys mirror the folders."""

import os

import pytest

from c3d.errors import C3DError
from c3d.video.inputs import expand_inputs


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def keys(videos):
    return [v.key for v in videos]


def test_folder_is_searched_recursively_and_keys_are_relative(tmp_path):
    root = tmp_path / "data"
    for name in ("a/clip.mp4", "b/clip.mp4", "b/clip.avi", "b/deep/x.MKV", "top.avi"):
        touch(root / name)
    touch(root / "b/notes.txt")
    touch(root / "b/._clip.mp4")  # macOS resource fork
    touch(root / ".cache/hidden.mp4")
    videos, problems = expand_inputs([str(root)])
    assert keys(videos) == ["top.avi", "a/clip.mp4", "b/clip.avi", "b/clip.mp4", "b/deep/x.MKV"]
    assert videos[1].path == os.path.join(str(root), "a", "clip.mp4")
    assert problems == []


def test_file_inputs_are_keyed_by_name_and_missing_ones_kept(tmp_path):
    clip = touch(tmp_path / "x" / "clip.mp4")
    videos, problems = expand_inputs([str(clip), str(tmp_path / "gone.avi")])
    assert keys(videos) == ["clip.mp4", "gone.avi"]  # the missing one fails later, with reason
    assert problems == []


def test_same_key_from_two_inputs_is_a_problem_and_duplicates_are_dropped(tmp_path):
    first = touch(tmp_path / "one" / "clip.mp4")
    second = touch(tmp_path / "two" / "clip.mp4")
    videos, problems = expand_inputs([str(first), str(tmp_path / "one"), str(second)])
    assert [v.path for v in videos] == [str(first)]
    assert len(problems) == 1
    assert problems[0].startswith(f"{second}: same output name 'clip.mp4' as {first}")
    videos, problems = expand_inputs([str(first), str(second)], unique_keys=False)
    assert len(videos) == 2 and problems == []


def test_list_file_paths_are_relative_to_the_list(tmp_path):
    touch(tmp_path / "videos/Run/v1.avi")
    touch(tmp_path / "videos/Jump/v2.avi")
    touch(tmp_path / "other/v3.avi")
    absolute = touch(tmp_path / "abs/v4.avi")
    folder = tmp_path / "videos" / "Jump"
    listing = tmp_path / "videos" / "list.txt"
    lines = ["# training videos", "Run/v1.avi", "", "../other/v3.avi", str(absolute)]
    lines += [str(folder), "  Run/missing.avi  "]
    listing.write_text("\n".join(lines) + "\n")
    videos, problems = expand_inputs([f"@{listing}"])
    assert keys(videos) == ["Run/v1.avi", "v3.avi", "v4.avi", "v2.avi", "Run/missing.avi"]
    assert videos[0].path == os.path.join(str(tmp_path / "videos"), "Run/v1.avi")
    assert problems == []


def test_empty_folder_is_a_problem_and_missing_list_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    videos, problems = expand_inputs([str(tmp_path / "empty")])
    assert videos == [] and problems == [f"{tmp_path / 'empty'}: no video files in this folder"]
    with pytest.raises(C3DError, match="nolist.txt: cannot read the list"):
        expand_inputs([f"@{tmp_path / 'nolist.txt'}"])


def test_symlinked_folders_are_followed_without_looping(tmp_path):
    shared = tmp_path / "shared"
    touch(shared / "s.mp4")
    root = tmp_path / "data"
    touch(root / "a" / "x.mp4")
    (root / "linked").symlink_to(shared, target_is_directory=True)
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)  # back up: a cycle
    videos, problems = expand_inputs([str(root)])
    assert keys(videos) == ["a/x.mp4", "linked/s.mp4"]
    assert problems == []


def test_unreadable_folders_are_problems_not_silence(tmp_path, monkeypatch):
    root = tmp_path / "data"
    touch(root / "ok" / "x.mp4")
    touch(root / "locked" / "y.mp4")
    real_scandir = os.scandir

    def scandir(path="."):  # root reads every folder: make one unreadable for this test
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    videos, problems = expand_inputs([str(root)])
    assert keys(videos) == ["ok/x.mp4"]
    assert problems == [f"{root / 'locked'}: cannot read this folder (Permission denied)"]
    videos, problems = expand_inputs([str(root / "locked")])
    assert videos == [] and problems == [
        f"{root / 'locked'}: cannot read this folder (Permission denied)"
    ]
