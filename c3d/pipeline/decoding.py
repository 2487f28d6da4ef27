"""The decoding stage: a video, or a part of one, → ``Clip`` messages → its end message.

Each generator here yields the clips of what it decodes, in order of their starts, as
``messages.Clip`` (the clip's views as uint8 crops, ``ClipFormat.view_crops``) and then
reports how decoding went: ``decode_part`` *returns* a ``segments.PartDecoded`` (use
``yield from``), ``decode_video`` and ``finish_split`` yield one end message last
(``VideoDone`` or ``VideoFailed``). Whatever a bad file makes OpenCV raise becomes that
video's failure, one line. The local scheduler's decoder threads and the Ray engine's
decoding tasks run these same generators; only where the messages go differs.
"""

import functools

from c3d.pipeline.messages import Clip, VideoDone, VideoFailed, VideoTurnedDown, failure_reason
from c3d.video import segments
from c3d.video.decode import (
    VideoError,
    check_decoded,
    declared_frame_count,
    iter_frames,
    open_video,
    seek,
    video_fps,
)
from c3d.video.resample import Resampler


def decode_part(index, path, capture, part, settings, wanted=None, resampler=None):
    """Yield the ``Clip`` messages of ``part`` of a video; return its ``PartDecoded``.

    ``capture`` is opened (and sought to ``part.first_frame``); it is released when the
    generator ends or is closed. The ``PartDecoded`` holds how far decoding went, the
    clips yielded, the digests proving the part's cuts and whether its one clip was
    padded; if decoding raised, its ``error`` says why (one line) and no more clips come.
    ``wanted``: only the clips starting there, decoding stopping after the last one's
    frames. ``resampler`` (a whole video only): clips are cut from the frames resampled
    to its rate, ``next_frame`` counting those.
    """
    clip_format, stride = settings.clip_format, settings.stride
    decoded = segments.PartDecoded(part, next_frame=part.first_frame)
    length = clip_format.span  # video frames a clip spans (Res3D-18: 8 every 2nd = 16)
    end = part.end_frame
    if wanted is not None:
        last_frame = max(wanted, default=-1) + length
        end = last_frame if end is None else min(end, last_frame)
    cutter = clip_format.cutter(
        stride, first_frame=part.first_frame, first_clip=part.first_clip, stack=False
    )
    # What each frame costs beyond decode + resize is the decoders' overhead (issue 23:
    # at most 10% of a core): per-frame Python calls that cannot matter are skipped.
    digests = bool(part.head or part.tail)  # only a cut's frames are digested
    if resampler is None:
        keep = None  # every frame is in a clip (stride <= length, no cut to prove)
        if digests or part.first_clip > 0 or stride > length:
            keep = functools.partial(part.keeps, stride=stride, length=length)
        frames = iter_frames(capture, keep, first_index=part.first_frame)
    else:  # clips are cut from the resampled frames: every frame of the file is needed
        frames = resampler.frames(iter_frames(capture))

    def message(start, frames):
        return Clip(index, start, frames, part.number)

    try:
        for frame in frames:
            if frame is not None:
                if digests:
                    decoded.record(cutter.n_frames, frame)
                # Each frame is resized once, as it is decoded (uint8, like Caffe C3D);
                # its views are views into it, and the cutter does not stack: a clip's
                # pixels are copied once, into its batch row (``Clip.view``).
                frame = clip_format.frame_views(clip_format.resize(frame))
            clip = cutter.push(frame)
            decoded.next_frame = cutter.n_frames
            if clip is not None and part.wants(clip.start):
                if wanted is None or clip.start in wanted:
                    yield message(clip.start, clip.frames)
                    decoded.n_clips += 1
            if end is not None and cutter.n_frames >= end:
                break
        clip = cutter.finish()
        if clip is not None and (wanted is None or clip.start in wanted):
            yield message(clip.start, clip.frames)
            decoded.n_clips += 1
        decoded.padded = cutter.padded
    except Exception as exc:
        decoded.error = failure_reason(path, exc)
    finally:
        frames.close()  # releases the capture
    return decoded


def judge_whole(path, decoded, declared, length, wanted=None, read=None):
    """The error of a whole video that yielded no frames or stopped short, else None.

    ``declared``: the frame count its container declares (``check_decoded``). With
    ``wanted`` clips, decoding stopped after the last one's frames: judged only if it
    stopped before them. ``read``: the file's frames decoded, when that is not
    ``decoded.next_frame`` (resampled videos).
    """
    if decoded.error is not None:
        return decoded.error
    last_frame = None if wanted is None else max(wanted, default=-1) + length
    read = decoded.next_frame if read is None else read
    try:
        if last_frame is None or decoded.next_frame < last_frame:
            check_decoded(path, read, declared)
    except VideoError as exc:
        return str(exc)
    return None


def open_job(index, video, settings, claim=None, cut_into=1):
    """Claim and open a video: an end message (turned down, failed), or
    ``(capture, fps, declared, parts)`` with the parts to decode (one, the whole video,
    unless ``cut_into`` > 1 decoders are idle and the video is long enough)."""
    path = getattr(video, "path", video)
    try:
        if claim is not None and not claim(video):
            return VideoTurnedDown(index)
        capture = open_video(path, gpu=settings.gpu_decode, threads=settings.capture_threads())
        fps, declared = video_fps(capture), declared_frame_count(capture)
    except Exception as exc:
        return VideoFailed(index, failure_reason(path, exc))
    parts = [segments.Part.whole()]
    if cut_into > 1 and settings.can_cut():
        length = settings.clip_format.span
        parts = segments.plan_parts(declared, cut_into, settings.stride, length)
    return capture, fps, declared, parts


def decode_whole(index, video, settings, capture, fps, declared):
    """Yield the clips of a video decoded in one piece, then its end message."""
    path = getattr(video, "path", video)
    resampler = None
    if settings.fps is not None:
        if fps <= 0:
            capture.release()
            yield VideoFailed(
                index,
                f"{path}: the file declares no frame rate, so it cannot be resampled to "
                f"--fps {settings.fps:g}",
            )
            return
        resampler = Resampler(fps, settings.fps)
    wanted = None if settings.select is None else set(settings.select(video))
    whole = segments.Part.whole()
    decoded = yield from decode_part(index, path, capture, whole, settings, wanted, resampler)
    read = None if resampler is None else resampler.source_frames
    error = judge_whole(path, decoded, declared, settings.clip_format.span, wanted, read)
    if error is not None:
        yield VideoFailed(index, error)
    elif resampler is None:
        yield VideoDone(index, decoded.n_clips, fps, decoded.next_frame, decoded.padded)
    else:
        yield VideoDone(
            index, decoded.n_clips, settings.fps, decoded.next_frame, decoded.padded,
            source_fps=fps,
        )  # fmt: skip


def decode_video(index, video, settings, claim=None):
    """Yield the clips of a whole video, then exactly one end message (also for a video
    that cannot be opened, or whose claim is refused)."""
    opened = open_job(index, video, settings, claim)
    if not isinstance(opened, tuple):
        yield opened
        return
    capture, fps, declared, _ = opened
    yield from decode_whole(index, video, settings, capture, fps, declared)


def decode_cut_part(index, path, part, settings, capture=None):
    """Yield the clips of one part of a cut video (opened and sought here unless
    ``capture`` is given); return its ``PartDecoded``, ``error`` set if it failed."""
    try:
        if capture is None:
            capture = open_video(path, threads=settings.capture_threads())
            if not seek(capture, part.first_frame):
                capture.release()
                raise VideoError(f"{path}: cannot seek to frame {part.first_frame}")
    except Exception as exc:
        return segments.PartDecoded(part, error=failure_reason(path, exc))
    return (yield from decode_part(index, path, capture, part, settings))


def finish_split(index, path, decoded_parts, declared, fps, settings):
    """Yield the end message of a cut video once all its parts are decoded (``segments
    .judge``); a cut that cannot be proven is decoded again from frame 0 first, its
    clips yielded before the end."""
    verdict = segments.judge(decoded_parts)
    parts = [decoded.part.number for decoded in verdict.kept]
    n_clips, n_frames = verdict.n_clips, verdict.n_frames
    if verdict.error is not None:
        yield VideoFailed(index, verdict.error)
        return
    if verdict.redo_from is not None:
        # A seek that could not be proven: the rest again, from frame 0 in one piece.
        rest = segments.Part.rest(len(decoded_parts), verdict.redo_from)
        try:
            capture = open_video(path, threads=settings.capture_threads())
        except Exception as exc:
            yield VideoFailed(index, failure_reason(path, exc))
            return
        decoded = yield from decode_part(index, path, capture, rest, settings)
        if decoded.error is not None:
            yield VideoFailed(index, decoded.error)
            return
        parts.append(rest.number)
        n_clips, n_frames = n_clips + decoded.n_clips, decoded.next_frame
    try:
        check_decoded(path, n_frames, declared)
    except VideoError as exc:
        yield VideoFailed(index, str(exc))
        return
    yield VideoDone(index, n_clips, fps, n_frames, False, frozenset(parts))
