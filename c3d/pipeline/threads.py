"""The local scheduler: the core's stages on threads of this process.

::

    decoder thread(s)  decoding.* : video → resized uint8 frames → clips (views of them)
                       batching.Batcher (shared): each clip's views copied once, into
                       their rows of the batch being filled
         │ batch queue (bounded), with the videos' end messages
    caller's thread    batching.model_rows (padding; the model, which subtracts the
                       mean on its device) → assembly → yielded

Decoding runs ahead of the model in other threads (OpenCV and NumPy release the GIL), so
the model does not wait for frames; memory stays bounded whatever the videos' lengths:
each decoder holds one window of T resized frames, the queue and the batcher a few
batches. The decoders fill the batches themselves (no batcher thread, no queue hop per
clip): with that, the float mean moved into the model's graph and each clip copied once,
one decoder pinned to a core went from 0.66 to 0.85-0.90 of OpenCV's decode + resize
alone on SD video (issue 23; README, "Speed").

Each decoder takes whole videos; when fewer videos are left than decoders, a long video
is cut into parts that several decoders decode at once, each from a seek whose landing is
proven (``c3d.video.segments``), so one long video uses several cores and its outputs
stay bit-identical to one decoder's.
"""

import collections
import contextlib
import queue
import threading

from c3d.pipeline import decoding
from c3d.pipeline.assembly import Assembly
from c3d.pipeline.batching import Batcher, model_rows
from c3d.pipeline.messages import (
    END_MESSAGES,
    Clip,
    VideoDone,
    VideoFailed,
    VideoFailure,
    VideoSkipped,
    VideoTurnedDown,
    path_of,
)

_POLL_S = 0.1  # how often blocked threads look whether the run was stopped
_DECODER_FINISHED = object()
_STOPPED = object()  # a put gave up: the run was stopped


class _Crashed:
    def __init__(self, error):
        self.error = error


class _Stopped(Exception):
    pass


class _Jobs:
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
        """("video", index) or ("part", _CutVideo, Part); None when no job is left."""
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

    def opened(self, cut=None, parts=()):
        """The decoder of a ("video", …) job decided; ``parts`` are for the others."""
        with self._ready:
            self._opening -= 1
            self._parts.extend((cut, part) for part in parts)
            self._ready.notify_all()


class _CutVideo:
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

    def __init__(self, videos, settings, claim):
        self.videos, self.settings, self.claim = list(videos), settings, claim
        self.stop = threading.Event()
        self.jobs = _Jobs(len(self.videos))
        self.batcher = Batcher(settings.batch_size, settings.clip_format.input_shape)
        self.batch_queue = queue.Queue(maxsize=2)
        self.threads = [
            threading.Thread(target=self._decoder, name=f"c3d-decoder-{i}", daemon=True)
            for i in range(settings.decoders)
        ]

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

    def get(self, source):
        while True:
            try:
                return source.get(timeout=_POLL_S)
            except queue.Empty:
                if self.stop.is_set():
                    raise _Stopped() from None

    def _send(self, messages):
        """Batch the clips of a decoding generator and put the batches they complete
        and its end message; the generator's return value, or _STOPPED."""
        with contextlib.closing(messages):
            while True:
                try:
                    message = next(messages)
                except StopIteration as end:
                    return end.value
                items = self.batcher.add(message) if isinstance(message, Clip) else [message]
                for item in items:
                    if not self._put(self.batch_queue, item):
                        return _STOPPED

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
                job = self.jobs.take(self.stop)
                if job is None:
                    break
                done = self._video_job(job[1]) if job[0] == "video" else self._part_job(*job[1:])
                if done is _STOPPED:
                    return
            self._put(self.batch_queue, _DECODER_FINISHED)
        except BaseException as exc:  # a bug: let the caller's thread raise it
            self._put(self.batch_queue, _Crashed(exc))

    def _video_job(self, index):
        """Decode video ``index``, or its first part when it is cut for idle decoders."""
        video, settings = self.videos[index], self.settings
        # Cut only when decoders would otherwise wait: fewer videos left than them.
        waiting = self.jobs.videos_waiting() < settings.decoders
        try:
            opened = decoding.open_job(
                index, video, settings, self.claim, cut_into=settings.decoders if waiting else 1
            )
        except BaseException:
            self.jobs.opened()
            raise
        if not isinstance(opened, tuple):
            self.jobs.opened()
            return self._send(_only(opened))
        capture, fps, declared, parts = opened
        if len(parts) == 1:
            self.jobs.opened()
            return self._send(decoding.decode_whole(index, video, settings, capture, fps, declared))
        cut = _CutVideo(index, path_of(video), parts, fps, declared)
        self.jobs.opened(cut, parts[1:])
        return self._part_job(cut, parts[0], capture)

    def _part_job(self, cut, part, capture=None):
        """Decode one part of a cut video; the decoder of its last part finishes it."""
        decoded = self._send(
            decoding.decode_cut_part(cut.index, cut.path, part, self.settings, capture)
        )
        if decoded is _STOPPED or not cut.add(decoded):
            return decoded  # another part's decoder finishes the video
        return self._send(
            decoding.finish_split(
                cut.index, cut.path, cut.decoded(), cut.declared, cut.fps, self.settings
            )
        )


def _only(message):
    yield message


def run_videos(videos, predict, settings, *, on_batch=None, claim=None):
    """Run ``predict`` on the clips of ``videos``; yield what became of each video.

    Args:
        videos: paths, or objects with a ``.path`` (returned as given in the results).
        predict: ``c3d.model.inference.predict_fn(model)`` (uint8 batches, the mean
            subtracted in the model's graph), or any ``f(batch (B, T, H, W, 3) float32)
            -> (B, …)`` array (mean-subtracted clips); see ``batching.model_rows``.
        settings: a ``StreamSettings`` (clip format, stride, batch size, decoders, …).
        on_batch: called with the number of real rows (clip views) after each model call.
        claim: ``f(video) -> bool``, asked in a decoder thread just before the video is
            decoded; False skips it (a ``VideoSkipped`` result): how processes sharing an
            output split the work (``c3d.extraction.claims``).

    Yields a VideoResult, VideoFailure or VideoSkipped per video, in the order videos
    finish. Close the generator (or exhaust it) to stop the threads.
    """
    if not videos:
        return
    run = _Run(videos, settings, claim)
    assemblies = {}
    closed = set()  # videos failed or yielded: rows still coming for them are dropped
    pad_to = settings.batch_size if settings.pad_last else None
    running = settings.decoders
    run.start()
    try:
        while True:
            if running:
                item = run.get(run.batch_queue)
            else:  # every decoder finished: the last, partly filled batch, then the end
                item = run.batcher.flush()
                if item is None:
                    break
            if item is _DECODER_FINISHED:
                running -= 1
                continue
            if isinstance(item, _Crashed):
                raise RuntimeError(f"c3d decoding thread failed: {item.error!r}") from item.error
            if isinstance(item, END_MESSAGES):
                result = _closing(item, run.videos, assemblies, closed, settings.views)
                if result is not None:
                    yield result
                continue
            views = [tag[3] for tag in item.tags]
            outputs = model_rows(predict, item.crops, views, settings.clip_format, pad_to)
            touched = []
            for output, (index, start, part, view) in zip(outputs, item.tags, strict=True):
                if index not in closed:
                    assembly = assemblies.setdefault(index, Assembly(settings.views))
                    assembly.add_row(start, part, view, output)
                    touched.append(index)
            if on_batch is not None:
                on_batch(len(item.tags))
            for index in dict.fromkeys(touched):
                result = _complete(index, run.videos, assemblies, closed)
                if result is not None:
                    yield result
    finally:
        run.shutdown()


def _closing(message, videos, assemblies, closed, views):
    """What a video's end message gives now: a failure, a skip, or its finished result."""
    index = message.index
    if isinstance(message, VideoFailed):
        closed.add(index)
        assemblies.pop(index, None)
        return VideoFailure(index, videos[index], message.reason)
    if isinstance(message, VideoTurnedDown):
        return VideoSkipped(index, videos[index])
    assert isinstance(message, VideoDone)
    assemblies.setdefault(index, Assembly(views)).finish(message)
    return _complete(index, videos, assemblies, closed)


def _complete(index, videos, assemblies, closed):
    assembly = assemblies.get(index)
    if assembly is None or not assembly.complete():
        return None
    del assemblies[index]
    closed.add(index)
    return assembly.result(index, videos[index])
