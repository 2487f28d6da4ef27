"""One long video cut into parts for several decoders: the same outputs as one decoder.

The reference is always a run with one decoder (one piece, no seek). Seeks that land on
the wrong frame or fail are simulated by wrapping ``c3d.pipeline.decoding.seek``: the videos
OpenCV writes here seek exactly, and the proof must hold where they do not.
"""

import cv2
import numpy as np
import pytest
from test_pipeline import signature
from video_helpers import decode_all, make_video, truncate_copy

import c3d.pipeline.decoding as decoding
from c3d.video import segments
from c3d.video.clip_format import preprocess_input
from c3d.video.stream import run_videos

PART_FRAMES = 64  # MIN_PART_FRAMES for these tests: 300 frames make 4 parts


@pytest.fixture()
def small_parts(monkeypatch):
    monkeypatch.setattr(segments, "MIN_PART_FRAMES", PART_FRAMES)


@pytest.fixture()
def verdicts(monkeypatch):
    """Every Verdict the stream reaches on a cut video (a spy on segments.judge)."""
    seen = []
    judge = segments.judge

    def spy(decoded):
        verdict = judge(decoded)
        seen.append((len(decoded), verdict))
        return verdict

    monkeypatch.setattr(segments, "judge", spy)
    return seen


def one(path, **kwargs):
    (result,) = run_videos([path], signature, batch_size=4, **kwargs)
    return result


def assert_same(result, reference):
    assert result.ok and reference.ok
    assert result.n_frames == reference.n_frames
    assert result.padded == reference.padded
    np.testing.assert_array_equal(result.starts, reference.starts)
    np.testing.assert_array_equal(result.outputs, reference.outputs)  # bit for bit


@pytest.fixture(scope="module")
def long_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    return {
        ext: make_video(folder / f"long{ext}", 300, seed=7, size=(64, 48))
        for ext in (".avi", ".mp4", ".mkv")
    }


# --- the plan ---------------------------------------------------------------------------


@pytest.mark.parametrize(("stride", "length"), [(8, 16), (1, 16), (40, 16), (16, 16)])
def test_parts_cover_every_clip_once_and_overlap_by_the_verified_frames(
    small_parts, stride, length
):
    parts = segments.plan_parts(300, 4, stride, length)
    assert len(parts) == 4
    starts = range(0, 300, stride)
    owners = [[p.number for p in parts if p.wants(s)] for s in starts]
    assert all(len(owner) == 1 for owner in owners)  # each clip start in exactly one part
    assert [o[0] for o in owners] == sorted(o[0] for o in owners)  # in order
    for before, after in zip(parts, parts[1:], strict=False):
        assert after.first_clip % stride == 0
        # the frames proving the cut: decoded at the end of one part and the start of the next
        assert before.tail == after.head == range(after.first_clip - 16, after.first_clip)
        # the part before decodes every frame of its last clip, and the proving frames
        last_start = max(s for s in starts if before.wants(s))
        assert before.end_frame >= last_start + length
        assert before.end_frame >= after.first_clip
    assert parts[0].first_frame == 0 and parts[-1].end_frame is None


def test_short_videos_and_one_decoder_are_not_cut(small_parts):
    assert len(segments.plan_parts(2 * PART_FRAMES - 1, 4, 8, 16)) == 1
    assert len(segments.plan_parts(10_000, 1, 8, 16)) == 1
    assert len(segments.plan_parts(0, 4, 8, 16)) == 1
    assert len(segments.plan_parts(2 * PART_FRAMES, 4, 8, 16)) == 2
    # a stride so long that the cuts would fall on the same clip start
    assert len(segments.plan_parts(300, 4, 1000, 16)) == 1


def test_equal_frames_prove_a_cut_unless_a_shift_would_match_too():
    frames = [bytes([i]) for i in range(16)]
    assert segments.proven(frames, list(frames))
    assert not segments.proven(frames, frames[1:] + [b"x"])  # landed one frame off
    assert not segments.proven(frames[:15], frames[:15])  # too few frames
    still = [b"s"] * 16
    assert not segments.proven(still, list(still))  # a still scene: any offset matches
    blinking = [b"a", b"b"] * 8
    assert not segments.proven(blinking, list(blinking))  # period 2
    doubled = [bytes([i // 2]) for i in range(16)]  # every frame twice (e.g. 30 -> 60 fps)
    assert segments.proven(doubled, list(doubled))


# --- the stream -------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".avi", ".mp4", ".mkv"])
@pytest.mark.parametrize("decoders", [2, 3, 4])
def test_a_cut_video_gives_the_outputs_of_one_decoder(
    small_parts, verdicts, long_videos, ext, decoders
):
    path = long_videos[ext]
    reference = one(path, decoders=1)
    assert not verdicts  # one decoder never cuts
    result = one(path, decoders=decoders)
    assert_same(result, reference)
    ((n_parts, verdict),) = verdicts
    assert n_parts == decoders and len(verdict.kept) == decoders and verdict.redo_from is None
    # and the outputs are those of the clips' raw frames (an independent decoder)
    frames = decode_all(path)
    clips = np.stack([frames[s : s + 16] for s in result.starts])
    np.testing.assert_array_equal(result.outputs, signature(preprocess_input(clips)))


@pytest.mark.parametrize("stride", [1, 40])
def test_strides_shorter_and_longer_than_a_clip(small_parts, verdicts, long_videos, stride):
    path = long_videos[".avi"]
    reference = one(path, decoders=1, stride=stride)
    assert_same(one(path, decoders=4, stride=stride), reference)
    assert len(verdicts[-1][1].kept) == 4


def landing(monkeypatch, where):
    """Make every seek land at ``where(frame)`` (None: the seek fails)."""
    seek = decoding.seek

    def wrong(capture, frame):
        target = where(frame)
        return False if target is None else seek(capture, target)

    monkeypatch.setattr(decoding, "seek", wrong)


@pytest.mark.parametrize(
    "where",
    [lambda f: f + 1, lambda f: f - 3, lambda f: f + 40, lambda f: None],
    ids=["one-late", "three-early", "a-part-late", "refused"],
)
def test_seeks_that_land_elsewhere_are_caught_and_their_clips_decoded_again(
    small_parts, verdicts, monkeypatch, long_videos, where
):
    path = long_videos[".avi"]
    reference = one(path, decoders=1)
    landing(monkeypatch, where)
    assert_same(one(path, decoders=4), reference)
    ((_, verdict),) = verdicts
    assert [d.part.number for d in verdict.kept] == [0]
    assert verdict.redo_from == verdict.kept[0].part.end_clip


def test_negative_control_without_the_proof_a_late_seek_shifts_the_clips(
    small_parts, monkeypatch, long_videos
):
    path = long_videos[".avi"]
    reference = one(path, decoders=1)
    landing(monkeypatch, lambda f: f + 1)
    monkeypatch.setattr(segments, "proven", lambda tail, head: True)
    result = one(path, decoders=4)
    assert not np.array_equal(result.outputs, reference.outputs)


def write_frames(path, frames, fps=25.0):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return str(path)


def test_a_still_scene_at_a_cut_is_decoded_again_from_frame_0(
    small_parts, verdicts, monkeypatch, tmp_path
):
    # 300 frames, still from 40 to 100 (around the first cut, at 72): no seek is provable
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(300)]
    for i in range(40, 100):
        frames[i] = frames[40]
    path = write_frames(tmp_path / "still.avi", frames)
    reference = one(path, decoders=1)
    assert_same(one(path, decoders=4), reference)
    ((_, verdict),) = verdicts
    assert len(verdict.kept) == 1 and verdict.redo_from == 72
    # the control: a seek one frame late there would have matched without the check
    landing(monkeypatch, lambda f: f + 1)
    monkeypatch.setattr(segments, "proven", lambda tail, head: head == tail)
    shifted = one(path, decoders=4)
    assert shifted.ok and np.array_equal(shifted.starts, reference.starts)
    assert not np.array_equal(shifted.outputs, reference.outputs)


@pytest.mark.parametrize("ext", [".avi", ".mkv"])
def test_a_truncated_long_video_fails_as_with_one_decoder(small_parts, tmp_path, ext):
    path = make_video(tmp_path / f"whole{ext}", 300, seed=2)
    cut = truncate_copy(path, tmp_path / f"cut{ext}", 0.6)
    reference = one(cut, decoders=1)
    assert not reference.ok and "truncated" in reference.reason
    result = one(cut, decoders=4)
    assert not result.ok and result.reason == reference.reason


def test_many_videos_with_a_long_one_and_bad_ones(small_parts, verdicts, tmp_path, long_videos):
    (tmp_path / "text.mp4").write_text("not a video")
    videos = [
        make_video(tmp_path / "short.avi", 10, seed=1),
        str(tmp_path / "missing.avi"),
        long_videos[".mp4"],
        str(tmp_path / "text.mp4"),
        make_video(tmp_path / "forty.mp4", 40, seed=3),
    ]
    reference = {r.index: r for r in run_videos(videos, signature, batch_size=4, decoders=1)}
    results = {r.index: r for r in run_videos(videos, signature, batch_size=4, decoders=4)}
    assert sorted(results) == list(range(5))
    assert verdicts  # the long one, last of the videos in work, was cut
    for index, result in results.items():
        if reference[index].ok:
            assert_same(result, reference[index])
        else:
            assert not result.ok and result.reason == reference[index].reason
    assert results[0].padded and "no such file" in results[1].reason
