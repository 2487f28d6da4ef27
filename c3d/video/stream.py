"""The streaming path: videos → frames → clips → fixed-size batches → model → per-video outputs.

::

    decoder thread(s)  video → frames → resized (uint8) → T-frame windows → ClipFormat
         │ clip queue (bounded)                          normalised crops (float32 clips)
    batcher thread     clips of consecutive videos packed into batches of ``batch_size``
         │ batch queue (bounded)
    caller's thread    model → per-clip outputs → assembled per video → yielded

The one path from video files to model outputs: ``extract``, ``classify``, ``evaluate``
and training's validation all run through ``run_videos``. Decoding runs ahead of the
model in other threads (OpenCV and NumPy release the GIL), so the model does not wait
for frames; memory stays bounded whatever the videos' lengths: each decoder holds one
window of T resized frames, the queues a few batches.

Each decoder takes whole videos; when fewer videos are left than decoders, a long
video is cut into parts that several decoders decode at once, each from a seek whose
landing is proven (``c3d.video.segments``), so one long video uses several cores and
its outputs stay bit-identical to one decoder's.

A clip is seen through the clip format's views (``ClipFormat.views``: the centre crop, or
ten crops): each view is one row of a batch, so ten crops cost ten forward passes a clip,
and a clip's views may sit in two batches. Every batch has exactly ``batch_size`` rows
(the last one is padded with zero rows, unless ``pad_last`` is off).
Batches span video boundaries, so where a clip lands in a batch depends on which
videos came before it — e.g. on which were skipped on a resumed run. Keeping the batch
shape fixed makes a clip's result independent of that: backends pick their kernels by
shape (oneDNN computes a batch of 1 differently from larger ones, cuDNN autotunes per
shape), but a given kernel computes each sample of a batch the same way wherever it
sits (checked on CPU by tests/test_extract_cli.py). So a resumed run writes bit-identical
outputs to an uninterrupted one with the same ``--batch-size``.
"""

import collections
import contextlib
import dataclasses
import functools
import logging
import os
import queue
import threading

import numpy as np

from c3d.runtime import default_batch_size, default_decoders
from c3d.video import segments
from c3d.video.clip_format import ClipFormat
from c3d.video.clips import DEFAULT_STRIDE, check_stride
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

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often blocked threads look whether the run was stopped


@dataclasses.dataclass
class VideoResult:
    index: int  # position of the video in the list given to run_videos
    video: object  # that list's item (a path or an inputs.VideoInput)
    outputs: np.ndarray  # (N, D) float32, one row per clip; (N, V, D) with V > 1 views
    starts: np.ndarray  # (N,) int64, first frame of each clip
    fps: float  # the frame rate of the clips' frames (the resampled one with ``fps``)
    n_frames: int  # frames decoded (resampled ones with ``fps``)
    padded: bool  # one clip, padded by repeating the last frame
    source_fps: float | None = None  # the video's own rate, when resampled to ``fps``

    ok = True
    skipped = False


@dataclasses.dataclass
class VideoFailure:
    index: int
    video: object
    reason: str  # one line, "PATH: what is wrong"

    ok = False
    skipped = False


@dataclasses.dataclass
class VideoSkipped:
    """A video ``claim`` turned down: done, or being done, by another process."""

    index: int
    video: object

    ok = False
    skipped = True


# --- messages between the threads -------------------------------------------------
@dataclasses.dataclass
class _Clip:
    index: int
    start: int
    array: np.ndarray  # (V, T, H, W, 3): the clip's views
    part: int = 0  # which part of its video (c3d.video.segments) it came from


@dataclasses.dataclass
class _VideoDone:
    index: int
    n_clips: int  # clips of the kept parts
    fps: float
    n_frames: int
    padded: bool
    parts: frozenset = frozenset({0})  # the parts whose clips make the result
    source_fps: float | None = None  # the video's rate, when its frames were resampled


@dataclasses.dataclass
class _VideoFailed:
    index: int
    reason: str


@dataclasses.dataclass
class _VideoTurnedDown:
    index: int


@dataclasses.dataclass
class _Batch:
    array: np.ndarray  # (batch_size, L, crop, crop, 3)
    clips: list  # (video index, start, part, view) of the first len(clips) rows; then padding


@dataclasses.dataclass
class _Crashed:
    error: BaseException


_DECODER_FINISHED = object()
_ALL_BATCHED = object()
_NOTHING = object()  # a part decoded; another part's decoder finishes the video


def path_of(video):
    return os.fspath(getattr(video, "path", video))


def one_line(error):
    """An exception as one line (cv2.error messages span several)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def failure_reason(path, error):
    """Why a video failed, as one line ``PATH: reason``."""
    if isinstance(error, VideoError):
        return str(error)
    return f"{path}: {one_line(error)}"  # a corrupt file can make OpenCV raise anything


def part_clips(path, capture, part, clip_format, stride, decoded, wanted=None, resampler=None):
    """Yield ``(start, frames)`` for the clips of ``part`` of a video, in order of their starts.

    ``capture`` is opened (and sought to ``part.first_frame``); it is released when the
    generator ends or is closed. ``frames`` are the clip's resized uint8 frames (T, rh, rw,
    3). ``decoded`` (a ``segments.PartDecoded``) records how far decoding went, the clips
    yielded, the digests proving the part's cuts and whether its one clip was padded; if
    decoding raises, its ``error`` says why (one line, ``PATH: reason``) and no more
    clips come. ``wanted``: only the clips starting there, decoding stopping after the last.
    ``resampler`` (``c3d.video.resample``, a whole video only): clips are cut from the frames
    resampled to its rate, ``decoded.next_frame`` counting those. The one decoding loop of
    the local engine's decoders and the Ray engine's tasks.
    """
    length = clip_format.span
    end = part.end_frame
    if wanted is not None:  # with chosen clips, decoding stops after the last one's frames
        last_frame = max(wanted, default=-1) + length
        end = last_frame if end is None else min(end, last_frame)
    cutter = clip_format.cutter(stride, first_frame=part.first_frame, first_clip=part.first_clip)
    keep = functools.partial(part.keeps, stride=stride, length=length)
    if resampler is None:
        frames = iter_frames(capture, keep, first_index=part.first_frame)
    else:  # clips are cut from the resampled frames: every frame of the file is needed
        frames = resampler.frames(iter_frames(capture))
    try:
        for frame in frames:
            if frame is not None:
                decoded.record(cutter.n_frames, frame)
            # Each frame is resized once, as it is decoded (uint8, like Caffe C3D).
            clip = cutter.push(None if frame is None else clip_format.resize(frame))
            decoded.next_frame = cutter.n_frames
            if clip is not None and part.wants(clip.start):
                if wanted is None or clip.start in wanted:
                    yield clip.start, clip.frames
                    decoded.n_clips += 1
            if end is not None and cutter.n_frames >= end:
                break
    except Exception as exc:
        decoded.error = failure_reason(path, exc)
        return
    finally:
        frames.close()  # releases the capture
    clip = cutter.finish()
    if clip is not None and (wanted is None or clip.start in wanted):
        yield clip.start, clip.frames
        decoded.n_clips += 1
    decoded.padded = cutter.padded


def judge_whole(path, decoded, declared, length, wanted=None, read=None):
    """Set ``decoded.error`` for a whole video that yielded no frames or stopped short.

    ``declared``: the frame count its container declares (``check_decoded``). With
    ``wanted`` clips, decoding stopped after the last one's frames: judged only if it
    stopped before them. ``read``: the file's frames decoded, when that is not
    ``decoded.next_frame`` (resampled videos).
    """
    if decoded.error is not None:
        return
    last_frame = None if wanted is None else max(wanted, default=-1) + length
    read = decoded.next_frame if read is None else read
    try:
        if last_frame is None or decoded.next_frame < last_frame:
            check_decoded(path, read, declared)
    except VideoError as exc:
        decoded.error = str(exc)


def video_clips(path, capture, clip_format, stride, decoded):
    """Yield ``(start, frames)`` for every clip of a whole video (see ``part_clips``).

    When it ends, ``decoded`` (a ``segments.PartDecoded`` of ``Part.whole()``) holds the
    clips and frames decoded, and ``error`` if the video failed as ``run_videos`` would
    report it. The Ray engine's decoding tasks (``c3d.extraction.ray_engine``).
    """
    declared = declared_frame_count(capture)
    yield from part_clips(path, capture, segments.Part.whole(), clip_format, stride, decoded)
    judge_whole(path, decoded, declared, clip_format.span)


class _Work:
    """The decoders' jobs: whole videos, and the parts of videos cut on the way.

    Parts go first, so a video that was cut finishes soon and its outputs do not wait.
    A decoder that finds no job waits while another one is still deciding whether to
    cut a video (``opened`` not called yet): its parts may be coming.
    """

    def __init__(self, n_videos):
        self._ready = threading.Condition()
        self._videos = collections.deque(range(n_videos))
        self._parts = collections.deque()
        self._opening = 0

    def take(self, stop):
        """("video", index) or ("part", _SplitVideo, Part); None when no job is left."""
        with self._ready:
            while not stop.is_set():
                if self._parts:
                    return ("part", *self._parts.popleft())
                if self._videos:
                    self._opening += 1
                    return ("video", self._videos.popleft())
                if not self._opening:
                    return None
                self._ready.wait(_POLL_S)
            return None

    def videos_waiting(self):
        with self._ready:
            return len(self._videos)

    def opened(self, split=None, parts=()):
        """The decoder of a ("video", …) job decided; ``parts`` are for the others."""
        with self._ready:
            self._opening -= 1
            self._parts.extend((split, part) for part in parts)
            self._ready.notify_all()


class _SplitVideo:
    """A video cut into parts: what each part gave, collected from several decoders."""

    def __init__(self, index, path, parts, fps, declared):
        self.index, self.path, self.parts = index, path, parts
        self.fps, self.declared = fps, declared
        self._lock = threading.Lock()
        self._decoded = {}

    def add(self, decoded):
        """Record a part; True for the last one (its decoder finishes the video)."""
        with self._lock:
            self._decoded[decoded.part.number] = decoded
            return len(self._decoded) == len(self.parts)

    def decoded(self):
        return [self._decoded[part.number] for part in self.parts]


class _Run:
    """The threads and queues of one run_videos call."""

    def __init__(
        self,
        videos,
        stride,
        clip_format,
        batch_size,
        decoders,
        select,
        pad_last,
        claim,
        gpu_decode,
        fps=None,
    ):
        self.fps = fps
        self.pad_last = pad_last
        self.claim = claim
        self.gpu_decode = gpu_decode
        self.videos = list(videos)
        self.stride = stride
        self.format = clip_format
        self.select = select
        self.batch_size = batch_size
        # More decoders than videos is fine: a long video is cut into parts for them.
        self.decoders = max(1, decoders)
        self.stop = threading.Event()
        self.work = _Work(len(self.videos))
        # Two batches' worth of rows: ten views a clip take ten times the memory of one.
        self.clip_queue = queue.Queue(maxsize=max(2, 2 * batch_size // clip_format.crops))
        self.batch_queue = queue.Queue(maxsize=2)
        self.threads = [
            threading.Thread(target=self._decoder, name=f"c3d-decoder-{i}", daemon=True)
            for i in range(self.decoders)
        ]
        self.threads.append(threading.Thread(target=self._batcher, name="c3d-batcher", daemon=True))

    # -- plumbing --------------------------------------------------------------------
    def _put(self, target, item):
        """Put unless the run was stopped; False means stop working."""
        while not self.stop.is_set():
            try:
                target.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, source):
        while True:
            try:
                return source.get(timeout=_POLL_S)
            except queue.Empty:
                if self.stop.is_set():
                    raise _Stopped() from None

    def start(self):
        for thread in self.threads:
            thread.start()

    def shutdown(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)

    # -- decoder threads ---------------------------------------------------------------
    def _decoder(self):
        try:
            while True:
                job = self.work.take(self.stop)
                if job is None:
                    break
                if job[0] == "video":
                    message = self._video_job(job[1])
                else:
                    message = self._part_job(*job[1:])
                if message is _NOTHING:
                    continue
                if message is None or not self._put(self.clip_queue, message):
                    return
            self._put(self.clip_queue, _DECODER_FINISHED)
        except BaseException as exc:  # a bug: let the caller's thread raise it
            self._put(self.clip_queue, _Crashed(exc))

    def _video_job(self, index):
        """Decode video ``index``, or its first part when it is cut for idle decoders.

        Returns the message that closes the video, ``_NOTHING`` when another decoder will
        send it, or None when the run was stopped.
        """
        path = path_of(self.videos[index])
        opened = False
        try:
            if self.claim is not None and not self.claim(self.videos[index]):
                return _VideoTurnedDown(index)
            capture = open_video(path, gpu=self.gpu_decode)
            fps, declared = video_fps(capture), declared_frame_count(capture)
            parts = [segments.Part.whole()]
            # Cut only when decoders would otherwise wait: fewer videos left than them
            # (and not on the GPU decoder, which cannot seek, nor when resampling: parts
            # are planned in the file's frames).
            cut = self.select is None and not self.gpu_decode and self.fps is None
            if cut and self.work.videos_waiting() < self.decoders:
                length = self.format.span
                parts = segments.plan_parts(declared, self.decoders, self.stride, length)
            if len(parts) == 1:
                self.work.opened()
                opened = True
                return self._whole_video(index, path, capture, fps, declared)
            split = _SplitVideo(index, path, parts, fps, declared)
            self.work.opened(split, parts[1:])
            opened = True
            return self._part_job(split, parts[0], capture)
        except Exception as exc:
            return _VideoFailed(index, failure_reason(path, exc))
        finally:
            if not opened:
                self.work.opened()

    def _whole_video(self, index, path, capture, fps, declared):
        """Send the clips of one video decoded in one piece; return its closing message."""
        resampler = None
        if self.fps is not None:
            if fps <= 0:
                capture.release()
                return _VideoFailed(
                    index,
                    f"{path}: the file declares no frame rate, so it cannot be resampled to "
                    f"--fps {self.fps:g}",
                )
            resampler = Resampler(fps, self.fps)
        wanted = None if self.select is None else set(self.select(self.videos[index]))
        decoded = self._decode(index, path, capture, segments.Part.whole(), wanted, resampler)
        if decoded is None:
            return None
        read = None if resampler is None else resampler.source_frames
        judge_whole(path, decoded, declared, self.format.span, wanted, read)
        if decoded.error is not None:
            return _VideoFailed(index, decoded.error)
        if resampler is None:
            return _VideoDone(index, decoded.n_clips, fps, decoded.next_frame, decoded.padded)
        return _VideoDone(
            index, decoded.n_clips, self.fps, decoded.next_frame, decoded.padded, source_fps=fps
        )

    def _part_job(self, split, part, capture=None):
        """Decode one part of a cut video; the decoder of its last part judges them all."""
        try:
            if capture is None:
                capture = open_video(split.path)
                if not seek(capture, part.first_frame):
                    capture.release()
                    raise VideoError(f"{split.path}: cannot seek to frame {part.first_frame}")
            decoded = self._decode(split.index, split.path, capture, part)
        except Exception as exc:
            decoded = segments.PartDecoded(part, error=failure_reason(split.path, exc))
        if decoded is None:
            return None
        if not split.add(decoded):
            return _NOTHING
        return self._finish_split(split)

    def _finish_split(self, split):
        """The closing message of a cut video, once every part is decoded."""
        verdict = segments.judge(split.decoded())
        parts = [decoded.part.number for decoded in verdict.kept]
        n_clips, n_frames = verdict.n_clips, verdict.n_frames
        if verdict.error is not None:
            return _VideoFailed(split.index, verdict.error)
        if verdict.redo_from is not None:
            # A seek that could not be proven: the rest again, from frame 0 in one piece.
            log.debug("%s: decoding from clip %d on again", split.path, verdict.redo_from)
            rest = segments.Part.rest(len(split.parts), verdict.redo_from)
            try:
                decoded = self._decode(split.index, split.path, open_video(split.path), rest)
            except Exception as exc:
                return _VideoFailed(split.index, failure_reason(split.path, exc))
            if decoded is None:
                return None
            if decoded.error is not None:
                return _VideoFailed(split.index, decoded.error)
            parts.append(rest.number)
            n_clips, n_frames = n_clips + decoded.n_clips, decoded.next_frame
        try:
            check_decoded(split.path, n_frames, split.declared)
        except VideoError as exc:
            return _VideoFailed(split.index, str(exc))
        return _VideoDone(split.index, n_clips, split.fps, n_frames, False, frozenset(parts))

    def _decode(self, index, path, capture, part, wanted=None, resampler=None):
        """Send the clips of ``part`` of a video from an opened (and sought) capture.

        A video shorter than one clip gives one clip, its last frame repeated. With a
        ``resampler`` (a whole video only), clips are cut from its frames. Returns a
        ``PartDecoded`` (``error`` set if decoding raised, see ``part_clips``), or None when
        the run was stopped. Releases the capture.
        """
        decoded = segments.PartDecoded(part, next_frame=part.first_frame)
        clips = part_clips(
            path, capture, part, self.format, self.stride, decoded, wanted, resampler
        )
        with contextlib.closing(clips):  # releases the capture, also on a stop
            for start, frames in clips:
                try:
                    sent = self._send_clip(index, start, frames, part.number)
                except Exception as exc:
                    decoded.error = failure_reason(path, exc)
                    return decoded
                if not sent:
                    return None
        return decoded

    def _send_clip(self, index, start, frames, part):
        array = self.format.views(frames)
        return self._put(self.clip_queue, _Clip(index, start, array, part))

    # -- batcher thread ----------------------------------------------------------------
    def _new_batch(self):
        shape = (self.batch_size, *self.format.input_shape)
        return _Batch(np.empty(shape, np.float32), [])

    def _batcher(self):
        try:
            batch = self._new_batch()
            running = self.decoders
            while running:
                item = self._get(self.clip_queue)
                if item is _DECODER_FINISHED:
                    running -= 1
                elif isinstance(item, _Clip):
                    for view, array in enumerate(item.array):  # one row per view
                        batch.array[len(batch.clips)] = array
                        batch.clips.append((item.index, item.start, item.part, view))
                        if len(batch.clips) == self.batch_size:
                            if not self._put(self.batch_queue, batch):
                                return
                            batch = self._new_batch()
                else:  # _VideoDone / _VideoFailed / _VideoTurnedDown / _Crashed: pass on
                    if not self._put(self.batch_queue, item):
                        return
            if batch.clips:
                if self.pad_last:
                    batch.array[len(batch.clips) :] = 0
                else:
                    batch.array = batch.array[: len(batch.clips)]
                if not self._put(self.batch_queue, batch):
                    return
            self._put(self.batch_queue, _ALL_BATCHED)
        except _Stopped:
            return
        except BaseException as exc:
            self._put(self.batch_queue, _Crashed(exc))


class _Stopped(Exception):
    pass


class _Assembly:
    """The outputs of one video's clips (``views`` rows each), gathered as batches come back.

    Rows of parts the video's closing message leaves out (a cut that was not proven,
    see ``c3d.video.segments``) are dropped, also those that come after it.
    """

    def __init__(self, views=1):
        self.views = views
        self.rows = []  # ((start, view), output row)
        self.parts = []  # the part of each row
        self.done = None  # the _VideoDone message, once decoding finished

    def add(self, start, part, view, row):
        if self.done is None or part in self.done.parts:
            self.rows.append(((start, view), row))
            self.parts.append(part)

    def finish(self, done):
        self.done = done
        kept = [i for i, part in enumerate(self.parts) if part in done.parts]
        self.rows = [self.rows[i] for i in kept]
        self.parts = [self.parts[i] for i in kept]

    def complete(self):
        return self.done is not None and len(self.rows) == self.done.n_clips * self.views


def run_videos(
    videos,
    predict,
    *,
    stride=DEFAULT_STRIDE,
    clip_format=None,
    batch_size=None,
    decoders=None,
    on_batch=None,
    select=None,
    pad_last=True,
    claim=None,
    gpu_decode=False,
    fps=None,
):
    """Run ``predict`` on the clips of ``videos``; yield what became of each video.

    Args:
        videos: paths, or objects with a ``.path`` (returned as given in the results).
        predict: ``f(batch (B, T, H, W, 3) float32) -> (B, …)`` array, e.g.
            ``c3d.model.inference.predict_fn(model)``.
        stride: frames between clip starts.
        clip_format: how frames become clips (``ClipFormat``: shape, mean, crops); default
            the standard 16x112x112 centre crop with the shipped Sports-1M mean. With ten
            crops, each clip takes ten rows of the batches and ``outputs`` are (N, 10, D).
        batch_size: rows (clip views) per model call (default
            ``c3d.runtime.default_batch_size()``).
        decoders: decoding threads (default ``c3d.runtime.default_decoders()``). When
            fewer videos are left than decoders, a long video is cut into parts that
            several decoders decode at once (``c3d.video.segments``); the results are
            the same, bit for bit.
        on_batch: called with the number of real rows (clip views) after each model call.
        select: ``f(video) -> clip starts`` to compute only those clips of a video (e.g.
            the middle one); decoding stops after the last. ``n_frames`` is then the
            frames decoded so far. Default: every clip.
        pad_last: pad the last batch with zero clips to ``batch_size`` (fixed shapes, see
            above); False runs it at its own size, which wastes nothing on a single video
            (12 clips at batch 8 cost 12, not 16, clip computations).
        claim: ``f(video) -> bool``, asked in a decoder thread just before the video is
            decoded; False skips it (a ``VideoSkipped`` result): how processes sharing an
            output split the work (``c3d.extraction.claims``).
        gpu_decode: decode on the GPU (``c3d.video.decode.GpuCapture``, untested);
            check ``gpu_decoding_available()`` first.
        fps: resample each video to this frame rate before clips are cut
            (``c3d.video.resample``: nearest timestamp); ``starts``, ``n_frames`` and
            ``fps`` of the results are then the resampled stream's, ``source_fps`` the
            file's. Such videos are decoded in one piece. Default: the native rate.

    Yields a VideoResult, VideoFailure or VideoSkipped per video, in the order videos
    finish, not necessarily the order given. Close the
    generator (or exhaust it) to stop the threads; an exception or Ctrl-C in the loop
    does that too when the generator is closed, e.g. with ``contextlib.closing``.
    """
    stride = check_stride(stride)
    if clip_format is None:
        clip_format = ClipFormat()
    batch_size = int(batch_size or default_batch_size())
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not videos:
        return
    decoders = decoders or default_decoders()
    run = _Run(
        videos,
        stride,
        clip_format,
        batch_size,
        decoders,
        select,
        pad_last,
        claim,
        gpu_decode,
        fps,
    )
    views = clip_format.crops
    assemblies = {}
    closed = set()  # videos failed or yielded: rows still coming for them are dropped
    run.start()
    try:
        while True:
            item = run._get(run.batch_queue)
            if item is _ALL_BATCHED:
                break
            if isinstance(item, _Crashed):
                raise RuntimeError(f"c3d decoding thread failed: {item.error!r}") from item.error
            if isinstance(item, _VideoFailed):
                closed.add(item.index)
                assemblies.pop(item.index, None)
                yield VideoFailure(item.index, run.videos[item.index], item.reason)
                continue
            if isinstance(item, _VideoTurnedDown):
                yield VideoSkipped(item.index, run.videos[item.index])
                continue
            if isinstance(item, _VideoDone):
                assemblies.setdefault(item.index, _Assembly(views)).finish(item)
                touched = [item.index]
            else:
                outputs = np.asarray(predict(item.array))
                outputs = outputs.reshape(outputs.shape[0], -1)
                touched = []
                for row, (index, start, part, view) in enumerate(item.clips):
                    if index in closed:
                        continue
                    assembly = assemblies.setdefault(index, _Assembly(views))
                    assembly.add(start, part, view, outputs[row])
                    touched.append(index)
                if on_batch is not None:
                    on_batch(len(item.clips))
            for index in dict.fromkeys(touched):
                assembly = assemblies.get(index)
                if assembly is not None and assembly.complete():
                    del assemblies[index]
                    closed.add(index)
                    yield _result(index, run.videos[index], assembly)
    finally:
        run.shutdown()


def _result(index, video, assembly):
    done = assembly.done
    # A cut video's parts come back in any order: its clips in the order of their starts
    # (and a clip's views in their order).
    rows = sorted(assembly.rows, key=lambda place_row: place_row[0])
    outputs = np.stack([row for _, row in rows]).astype(np.float32, copy=False)
    if assembly.views > 1:
        outputs = outputs.reshape(-1, assembly.views, outputs.shape[-1])
    return VideoResult(
        index=index,
        video=video,
        outputs=outputs,
        starts=np.asarray([start for (start, _), _ in rows[:: assembly.views]], dtype=np.int64),
        fps=float(done.fps),
        n_frames=int(done.n_frames),
        padded=bool(done.padded),
        source_fps=None if done.source_fps is None else float(done.source_fps),
    )
