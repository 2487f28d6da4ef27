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

Every batch has exactly ``batch_size`` clips (the last one is padded with zero clips,
unless ``pad_last`` is off).
Batches span video boundaries, so where a clip lands in a batch depends on which
videos came before it — e.g. on which were skipped on a resumed run. Keeping the batch
shape fixed makes a clip's result independent of that: backends pick their kernels by
shape (oneDNN computes a batch of 1 differently from larger ones, cuDNN autotunes per
shape), but a given kernel computes each sample of a batch the same way wherever it
sits (checked on CPU by tests/test_extract_cli.py). So a resumed run writes bit-identical
outputs to an uninterrupted one with the same ``--batch-size``.
"""

import dataclasses
import functools
import os
import queue
import threading

import numpy as np

from c3d.runtime import default_batch_size, default_decoders
from c3d.video.clip_format import ClipFormat
from c3d.video.clips import DEFAULT_STRIDE, ClipCutter, check_stride, frame_in_a_clip
from c3d.video.decode import (
    VideoError,
    check_decoded,
    declared_frame_count,
    iter_frames,
    open_video,
    video_fps,
)

_POLL_S = 0.1  # how often blocked threads look whether the run was stopped


@dataclasses.dataclass
class VideoResult:
    index: int  # position of the video in the list given to run_videos
    video: object  # that list's item (a path or an inputs.VideoInput)
    outputs: np.ndarray  # (N, D) float32, one row per clip
    starts: np.ndarray  # (N,) int64, first frame of each clip
    fps: float
    n_frames: int  # frames decoded
    padded: bool  # one clip, padded by repeating the last frame

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
    array: np.ndarray


@dataclasses.dataclass
class _VideoDone:
    index: int
    n_clips: int
    fps: float
    n_frames: int
    padded: bool


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
    clips: list  # (video index, start) of the first len(clips) rows; the rest is padding


@dataclasses.dataclass
class _Crashed:
    error: BaseException


_DECODER_FINISHED = object()
_ALL_BATCHED = object()


def path_of(video):
    return os.fspath(getattr(video, "path", video))


def one_line(error):
    """An exception as one line (cv2.error messages span several)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


class _Run:
    """The threads and queues of one run_videos call."""

    def __init__(self, videos, stride, clip_format, batch_size, decoders, select, pad_last, claim):
        self.pad_last = pad_last
        self.claim = claim
        self.videos = list(videos)
        self.stride = stride
        self.format = clip_format
        self.select = select
        self.batch_size = batch_size
        self.decoders = max(1, min(decoders, len(self.videos)))
        self.stop = threading.Event()
        self.jobs = queue.SimpleQueue()
        for index in range(len(self.videos)):
            self.jobs.put(index)
        self.clip_queue = queue.Queue(maxsize=2 * batch_size)
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
            while not self.stop.is_set():
                try:
                    index = self.jobs.get_nowait()
                except queue.Empty:
                    break
                path = path_of(self.videos[index])
                try:
                    if self.claim is not None and not self.claim(self.videos[index]):
                        message = _VideoTurnedDown(index)
                    else:
                        message = self._decode(index, path)
                except VideoError as exc:
                    message = _VideoFailed(index, str(exc))
                except Exception as exc:  # a corrupt file can make OpenCV raise anything
                    message = _VideoFailed(index, f"{path}: {one_line(exc)}")
                if message is None or not self._put(self.clip_queue, message):
                    return
            self._put(self.clip_queue, _DECODER_FINISHED)
        except BaseException as exc:  # a bug: let the caller's thread raise it
            self._put(self.clip_queue, _Crashed(exc))

    def _decode(self, index, path):
        """Send the clips of one video; return its closing message (None: run stopped)."""
        length = self.format.frames
        wanted = None if self.select is None else set(self.select(self.videos[index]))
        # With chosen clips, decoding stops after the last one's frames.
        last_frame = None if wanted is None else max(wanted, default=-1) + length
        capture = open_video(path)
        fps, declared = video_fps(capture), declared_frame_count(capture)
        cutter = ClipCutter(self.stride, length)
        keep = functools.partial(frame_in_a_clip, stride=self.stride, length=length)
        frames = iter_frames(capture, keep)
        n_clips = 0
        try:
            for frame in frames:
                # Each frame is resized once, as it is decoded (uint8, like Caffe C3D).
                clip = cutter.push(None if frame is None else self.format.resize(frame))
                if clip is not None and (wanted is None or clip.start in wanted):
                    if not self._send_clip(index, clip):
                        return None
                    n_clips += 1
                if last_frame is not None and cutter.n_frames >= last_frame:
                    break
        finally:
            frames.close()  # releases the capture
        if last_frame is None or cutter.n_frames < last_frame:
            check_decoded(path, cutter.n_frames, declared)
        clip = cutter.finish()
        if clip is not None and (wanted is None or clip.start in wanted):
            if not self._send_clip(index, clip):
                return None
            n_clips += 1
        return _VideoDone(index, n_clips, fps, cutter.n_frames, cutter.padded)

    def _send_clip(self, index, clip):
        array = self.format.normalize(clip.frames)
        return self._put(self.clip_queue, _Clip(index, clip.start, array))

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
                    batch.array[len(batch.clips)] = item.array
                    batch.clips.append((item.index, item.start))
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
    """The outputs of one video's clips, gathered as their batches come back."""

    def __init__(self):
        self.rows, self.starts = [], []
        self.done = None  # the _VideoDone message, once decoding finished

    def complete(self):
        return self.done is not None and len(self.rows) == self.done.n_clips


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
):
    """Run ``predict`` on the clips of ``videos``; yield what became of each video.

    Args:
        videos: paths, or objects with a ``.path`` (returned as given in the results).
        predict: ``f(batch (B, T, H, W, 3) float32) -> (B, …)`` array, e.g.
            ``c3d.model.inference.predict_fn(model)``.
        stride: frames between clip starts.
        clip_format: how frames become clips (``ClipFormat``: shape, mean, crop); default
            the standard 16x112x112 with the shipped Sports-1M mean.
        batch_size: clips per model call (default ``c3d.runtime.default_batch_size()``).
        decoders: decoding threads (default ``c3d.runtime.default_decoders()``).
        on_batch: called with the number of real clips after each model call.
        select: ``f(video) -> clip starts`` to compute only those clips of a video (e.g.
            the middle one); decoding stops after the last. ``n_frames`` is then the
            frames decoded so far. Default: every clip.
        pad_last: pad the last batch with zero clips to ``batch_size`` (fixed shapes, see
            above); False runs it at its own size, which wastes nothing on a single video
            (12 clips at batch 8 cost 12, not 16, clip computations).
        claim: ``f(video) -> bool``, asked in a decoder thread just before the video is
            decoded; False skips it (a ``VideoSkipped`` result): how processes sharing an
            output split the work (``c3d.extraction.claims``).

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
    run = _Run(videos, stride, clip_format, batch_size, decoders, select, pad_last, claim)
    assemblies = {}
    failed = set()
    run.start()
    try:
        while True:
            item = run._get(run.batch_queue)
            if item is _ALL_BATCHED:
                break
            if isinstance(item, _Crashed):
                raise RuntimeError(f"c3d decoding thread failed: {item.error!r}") from item.error
            if isinstance(item, _VideoFailed):
                failed.add(item.index)
                assemblies.pop(item.index, None)
                yield VideoFailure(item.index, run.videos[item.index], item.reason)
                continue
            if isinstance(item, _VideoTurnedDown):
                yield VideoSkipped(item.index, run.videos[item.index])
                continue
            if isinstance(item, _VideoDone):
                assemblies.setdefault(item.index, _Assembly()).done = item
                touched = [item.index]
            else:
                outputs = np.asarray(predict(item.array))
                outputs = outputs.reshape(outputs.shape[0], -1)
                touched = []
                for row, (index, start) in enumerate(item.clips):
                    if index in failed:
                        continue
                    assembly = assemblies.setdefault(index, _Assembly())
                    assembly.rows.append(outputs[row])
                    assembly.starts.append(start)
                    touched.append(index)
                if on_batch is not None:
                    on_batch(len(item.clips))
            for index in dict.fromkeys(touched):
                assembly = assemblies.get(index)
                if assembly is not None and assembly.complete():
                    del assemblies[index]
                    yield _result(index, run.videos[index], assembly)
    finally:
        run.shutdown()


def _result(index, video, assembly):
    done = assembly.done
    return VideoResult(
        index=index,
        video=video,
        outputs=np.stack(assembly.rows).astype(np.float32, copy=False),
        starts=np.asarray(assembly.starts, dtype=np.int64),
        fps=float(done.fps),
        n_frames=int(done.n_frames),
        padded=bool(done.padded),
    )
