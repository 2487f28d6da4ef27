"""Decoding: frame counts come from decoding; bad files give one-line reasons."""

import numpy as np
import pytest
from synthetic_videos import synthetic_frames
from video_helpers import decode_all, make_video, truncate_copy

from c3d.video.decode import (
    VideoError,
    check_decoded,
    declared_frame_count,
    is_video_file,
    iter_frames,
    open_video,
    video_fps,
)
from conftest import BASEBALL_VIDEO, MAKEUP_VIDEO


def decode_count(path):
    capture = open_video(path)
    declared = declared_frame_count(capture)
    decoded = sum(1 for _ in iter_frames(capture))
    return decoded, declared


def test_real_videos_decode_fully():
    capture = open_video(BASEBALL_VIDEO)
    assert video_fps(capture) == pytest.approx(29.97, abs=0.01)
    frames = list(iter_frames(capture))
    assert len(frames) == 107
    assert frames[0].shape == (240, 320, 3) and frames[0].dtype == np.uint8
    assert decode_count(MAKEUP_VIDEO) == (164, 164)
    check_decoded(BASEBALL_VIDEO, 107, 107)  # complete: no error


def test_skipped_frames_are_yielded_as_none_and_the_rest_unchanged():
    reference = decode_all(BASEBALL_VIDEO)
    frames = list(iter_frames(open_video(BASEBALL_VIDEO), keep=lambda i: i % 40 < 16))
    assert len(frames) == 107
    for i, frame in enumerate(frames):
        if i % 40 < 16:
            assert np.array_equal(frame, reference[i])
        else:
            assert frame is None


def test_missing_empty_and_non_video_files(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        open_video(tmp_path / "missing.mp4")
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match=r"zero\.mp4: empty file \(0 bytes\)"):
        open_video(tmp_path / "zero.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(VideoError, match=r"text\.mp4: not a video"):
        open_video(tmp_path / "text.mp4")
    with pytest.raises(VideoError, match="is a folder"):
        open_video(tmp_path)


def test_container_without_frames_is_a_failure(tmp_path):
    path = make_video(tmp_path / "empty.avi", 0)
    decoded, declared = decode_count(path)
    assert decoded == 0
    with pytest.raises(VideoError, match=r"empty\.avi: no frames could be decoded"):
        check_decoded(path, decoded, declared)


def test_truncated_video_is_a_failure(tmp_path):
    path = truncate_copy(BASEBALL_VIDEO, tmp_path / "cut.avi", 0.5)
    decoded, declared = decode_count(path)
    assert declared == 107 and 0 < decoded < 100  # the header still promises 107
    with pytest.raises(VideoError, match=rf"cut\.avi: truncated .* after {decoded} of the 107"):
        check_decoded(path, decoded, declared)


def test_synthetic_videos_have_the_frames_asked_for(tmp_path):
    for name, n_frames in (("a.avi", 37), ("b.mp4", 20), ("c.mkv", 5)):
        path = make_video(tmp_path / name, n_frames, seed=3, size=(64, 48))
        frames = decode_all(path)
        assert frames.shape == (n_frames, 48, 64, 3)
        assert frames.std() > 10  # a pattern, not a flat image
    # MJPG is lossy but close: the frames are the generated ones
    generated = np.stack(list(synthetic_frames(37, (64, 48), seed=3)))
    assert np.abs(decode_all(tmp_path / "a.avi").astype(int) - generated).mean() < 8
    assert not list(tmp_path.glob(".tmp-*"))


def test_is_video_file():
    assert is_video_file("a/B.MP4") and is_video_file("x.avi")
    assert not is_video_file("notes.txt") and not is_video_file("clip.mp4.npz")
