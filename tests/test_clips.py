"""Cutting frame streams into 16-frame clips: starts, padding, skipped frames."""

import numpy as np
import pytest

from c3d.video.clips import ClipCutter, clip_starts, frame_in_a_clip, iter_clips


def numbered_frames(n):
    """Frames whose every pixel is the frame's index, so clips show which frames they hold."""
    return [np.full((2, 3, 3), i, np.int32) for i in range(n)]


def frame_ids(clip):
    return [int(frame[0, 0, 0]) for frame in clip.frames]


def test_107_frames_give_12_clips_starting_0_to_88():
    # starts 0, 8, 16 … while start + 16 <= 107: the last one is 88 (88 + 16 = 104)
    assert clip_starts(107, stride=8) == [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88]
    clips = list(iter_clips(numbered_frames(107), stride=8))
    assert [c.start for c in clips] == clip_starts(107, stride=8)
    for clip in clips:
        assert frame_ids(clip) == list(range(clip.start, clip.start + 16))
        assert not clip.padded


@pytest.mark.parametrize(
    ("n_frames", "stride", "expected"),
    [
        (16, 8, [0]),
        (23, 8, [0]),
        (24, 8, [0, 8]),
        (100, 40, [0, 40, 80]),
        (95, 40, [0, 40]),
        (0, 8, []),
        (1, 8, [0]),
    ],
)
def test_clip_starts(n_frames, stride, expected):
    assert clip_starts(n_frames, stride) == expected
    assert [c.start for c in iter_clips(numbered_frames(n_frames), stride)] == expected


def test_short_video_gives_one_clip_padded_with_its_last_frame():
    cutter = ClipCutter(stride=8)
    assert all(cutter.push(frame) is None for frame in numbered_frames(10))
    clip = cutter.finish()
    assert clip.start == 0 and clip.padded and cutter.padded
    assert frame_ids(clip) == list(range(10)) + [9] * 6
    assert cutter.n_frames == 10


def test_no_frames_give_no_clip():
    cutter = ClipCutter()
    assert cutter.finish() is None
    assert cutter.n_frames == 0 and not cutter.padded


def test_frames_between_clips_are_not_needed():
    """With stride > 16 the frames in no clip may be None: the clips are the same."""
    for stride in (8, 16, 17, 40):
        needed = {i for start in clip_starts(200, stride) for i in range(start, start + 16)}
        # frames after the last start are 'needed' only if a later clip could still fit
        for i in range(200):
            if i in needed:
                assert frame_in_a_clip(i, stride)
            elif i < clip_starts(200, stride)[-1]:
                assert not frame_in_a_clip(i, stride)
        frames = [
            f if frame_in_a_clip(i, stride) else None for i, f in enumerate(numbered_frames(200))
        ]
        sparse = list(iter_clips(frames, stride))
        full = list(iter_clips(numbered_frames(200), stride))
        assert [c.start for c in sparse] == [c.start for c in full]
        assert all(np.array_equal(a.frames, b.frames) for a, b in zip(sparse, full, strict=True))


@pytest.mark.parametrize("stride", [0, -8, 2.5])
def test_bad_stride_is_refused(stride):
    with pytest.raises(ValueError, match="stride"):
        clip_starts(100, stride)
