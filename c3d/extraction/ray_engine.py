"""``c3d extract --engine ray``: the same extraction on a Ray cluster, through Ray Data.

::

    driver         videos → plan_outputs, claims (as the local engine) → {index, key, path}
    CPU tasks      decode (``stream.video_clips``: the local engine's decoding loop) → uint8
                   centre crops, one row per clip, in blocks of CHUNK_CLIPS clips; then one
                   closing row per video (its clip count, fps, frames, padded, or its failure)
    actor pool     ``--workers`` replicas (one per GPU): ClipFormat.subtract_mean → batches
                   padded to ``--batch-size`` → ``predict_fn(feature_model(load_model(…)))``
                   → each batch's features written as part files per video (shared folder)
    driver         counts each video's clips; once all are there, a task assembles the part
                   files into the video's npz (``writers.write_npz_streamed``), atomically

Why this shape:

- Memory stays bounded whatever a video's length: a decoding task yields its clips as
  blocks of CHUNK_CLIPS clips (``DataContext.target_max_block_size`` set to one chunk), the
  actors return only (index, start) rows, and the assembly streams part files into the npz
  (``write_npz_streamed``) opening only those that overlap where it is.
- The same arrays as the local engine: the same decode and ClipFormat code, uint8 crops
  travel (a quarter of float32) and the mean is subtracted in the actor as ``normalize``
  does, and every model call has ``batch_size`` clips (zero-padded, as ``stream`` pads), so
  each clip's result does not depend on its batch (see ``c3d.video.stream``).
- Faults are Ray's to handle: Ray Data restarts a killed actor and retries its batches
  (``max_restarts``/``max_task_retries`` -1, its defaults), retries tasks of a lost node
  (``max_retries`` -1) and rebuilds lost blocks from lineage; assembly tasks are retried
  (``max_retries``). A batch done twice writes the same part file again (atomic rename)
  and the driver counts clips by their start, so a redone clip is neither lost nor
  counted twice, and each video is assembled, reported and released once.
- Outputs: npz files as the local engine's, written by the assembling task to a folder
  every node sees; with ``--format h5`` the tasks write the staging npz files and the
  driver packs them at the end (``H5Writer.close``), as for processes sharing an h5 file.
"""

import contextlib
import hashlib
import heapq
import logging
import os
import shutil

import numpy as np

from c3d.errors import C3DError
from c3d.extraction.claims import Claims
from c3d.extraction.writers import fatal_write_error, write_npz_streamed
from c3d.video import segments
from c3d.video.decode import open_video, video_fps

INSTALL_HINT = "--engine ray needs Ray: pip install 'c3d-keras[ray]'"
CHUNK_CLIPS = 16  # clips per block from a decoding task: 9.6 MB of uint8 16x112x112x3 crops
PARTS = "ray-parts"  # beside the claims: each video's part files until it is assembled


def import_ray():
    """The ray module, or a one-line C3DError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise C3DError(INSTALL_HINT) from None
    return ray


# --- decoding tasks ----------------------------------------------------------------
def _rows(index, key, starts, frames, *, n_clips=0, fps=0.0, n_frames=0, padded=False, error=""):
    count = len(starts)
    return {
        "index": np.full(count, index, np.int64),
        "key": np.array([key] * count, dtype=object),
        "start": np.asarray(starts, np.int64),
        "frames": frames,
        "n_clips": np.full(count, n_clips, np.int64),
        "fps": np.full(count, fps, np.float64),
        "n_frames": np.full(count, n_frames, np.int64),
        "padded": np.full(count, padded, np.bool_),
        "error": np.array([error] * count, dtype=object),
    }


def decode_videos(batch, *, clip_format, stride):
    """Ray Data UDF: for each video of ``batch``, its clips (CHUNK_CLIPS a batch), then a
    closing row (start -1) with its clip count and frames, or its failure (one line)."""
    from c3d.video.stream import failure_reason, video_clips

    empty = np.zeros((1, *clip_format.input_shape), np.uint8)
    for index, key, path in zip(batch["index"], batch["key"], batch["path"], strict=True):
        index, key, path = int(index), str(key), str(path)
        decoded = segments.PartDecoded(segments.Part.whole(), next_frame=0)
        try:  # as the local decoders: whatever a bad file makes OpenCV raise is its failure
            capture = open_video(path)
            fps = video_fps(capture)
            starts, crops = [], []
            for start, frames in video_clips(path, capture, clip_format, stride, decoded):
                starts.append(start)
                crops.append(clip_format.crop(frames))
                if len(starts) == CHUNK_CLIPS:
                    yield _rows(index, key, starts, np.stack(crops))
                    starts, crops = [], []
            if starts:
                yield _rows(index, key, starts, np.stack(crops))
        except Exception as exc:
            yield _rows(index, key, [-1], empty, error=failure_reason(path, exc))
            continue
        yield _rows(
            index,
            key,
            [-1],
            empty,
            n_clips=decoded.n_clips,
            fps=fps,
            n_frames=decoded.next_frame,
            padded=decoded.padded,
            error=decoded.error or "",
        )


# --- the model's actors --------------------------------------------------------------
def part_folder(root, key):
    """The folder of one video's part files (``.parts``: no clash between keys a and a/b)."""
    return os.path.join(root, *key.split("/")) + ".parts"


class ModelReplica:
    """Ray Data callable class: one model per actor, batches of ``batch_size`` clips."""

    def __init__(self, *, weights, precision, layer, clip_format, batch_size, parts):
        from c3d.model.builder import feature_model
        from c3d.model.inference import predict_fn
        from c3d.model.loader import load_model

        self.predict = predict_fn(feature_model(load_model(weights, precision=precision), layer))
        self.format = clip_format
        self.batch_size = batch_size
        self.parts = parts

    def __call__(self, batch):
        rows = np.flatnonzero(batch["start"] >= 0)
        if len(rows):
            clips = np.zeros((self.batch_size, *self.format.input_shape), np.float32)
            for slot, row in enumerate(rows):
                clips[slot] = self.format.subtract_mean(batch["frames"][row])
            outputs = np.asarray(self.predict(clips))[: len(rows)]
            outputs = outputs.reshape(len(rows), -1).astype(np.float32, copy=False)
            indices, starts = batch["index"][rows], batch["start"][rows]
            for index in np.unique(indices):
                mine = np.flatnonzero(indices == index)
                mine = mine[np.argsort(starts[mine], kind="stable")]
                self._write_part(str(batch["key"][rows[mine[0]]]), starts[mine], outputs[mine])
        return {name: value for name, value in batch.items() if name != "frames"}

    def _write_part(self, key, starts, outputs):
        from c3d.atomic import atomic_output

        folder = part_folder(self.parts, key)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, part_name(starts))
        with atomic_output(path) as tmp_path, open(tmp_path, "wb") as f:
            np.savez(f, starts=starts, clips=outputs)


def part_name(starts):
    """A part file's name: its first start (the assembly's sweep order), then a digest of
    all its starts, so that a redone batch holding other clips never replaces this one (one
    holding the same clips writes the same features)."""
    digest = hashlib.sha1(np.asarray(starts, np.int64).tobytes()).hexdigest()[:16]
    return f"{int(starts[0]):012d}-{digest}.npz"


def _part_names(folder):
    """The finished part files of a folder (not the temporaries of a killed writer), sorted."""
    names = os.listdir(folder)
    return sorted(name for name in names if name.endswith(".npz") and not name.startswith("."))


# --- assembly ----------------------------------------------------------------------
def _part_rows(folder):
    """Yield (start, features) over a video's part files, in order, each start once.

    Part files hold sorted starts; a redone batch may repeat some. Files are opened as
    the sweep reaches their first start, and dropped when read: only those overlapping
    the current position are in memory.
    """
    names = _part_names(folder)
    heap, opened, last = [], 0, None
    while heap or opened < len(names):
        while opened < len(names) and (not heap or int(names[opened][:12]) <= heap[0][0]):
            with np.load(os.path.join(folder, names[opened])) as data:
                part = (data["starts"], data["clips"])
            heapq.heappush(heap, (int(part[0][0]), opened, 0, part))
            opened += 1
        start, number, row, part = heapq.heappop(heap)
        if last is None or start > last:
            last = start
            yield start, part[1][row]
        if row + 1 < len(part[0]):
            heapq.heappush(heap, (int(part[0][row + 1]), number, row + 1, part))


def assemble(folder, path, count, fps, n_frames, padded, settings):
    """Write one video's npz from its part files, then remove them.

    Returns None, or ``(errno, reason)`` when the output cannot be written.
    """
    if not os.path.isdir(folder) and os.path.isfile(path):
        return None  # a retry of a task that finished: nothing left to do
    try:
        with np.load(os.path.join(folder, _part_names(folder)[0])) as data:
            shape = data["clips"].shape[1:]
        rows = _part_rows(folder)
        write_npz_streamed(path, rows, count, shape, fps, n_frames, padded, settings)
    except OSError as exc:
        return exc.errno, exc.strerror or str(exc)
    remove_parts(folder)
    return None


def remove_parts(folder):
    """Remove a video's part files, and the folders above left empty (up to ``PARTS``)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder = os.path.dirname(folder)
    while os.path.basename(folder) != PARTS:
        try:
            os.rmdir(folder)
        except OSError:  # not empty: another video's parts are there
            return
        folder = os.path.dirname(folder)


# --- the driver --------------------------------------------------------------------
class _Video:
    """What the driver knows of a video in flight: the starts of its clips done, its end."""

    def __init__(self):
        self.starts = set()
        self.end = None  # the closing row


def _resources(ray, gpus_per_worker, workers):
    gpus = ray.cluster_resources().get("GPU", 0)
    if gpus_per_worker is None:
        gpus_per_worker = 1 if gpus else 0
    if workers is None:
        workers = max(1, int(gpus // gpus_per_worker)) if gpus_per_worker else 1
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < workers + 1:  # else decoding tasks would wait for a CPU forever
        raise C3DError(
            f"--workers {workers}: each model replica takes a CPU and decoding at least one "
            f"more, and the Ray cluster has {cpus:g} CPUs"
        )
    if gpus_per_worker and gpus < workers * gpus_per_worker:
        raise C3DError(
            f"--workers {workers} with --gpus-per-worker {gpus_per_worker:g} need "
            f"{workers * gpus_per_worker:g} GPUs; the Ray cluster has {gpus:g}"
        )
    return gpus_per_worker, workers


@contextlib.contextmanager
def ray_session(address=None):
    """Connect to Ray at ``address`` (None: start a local Ray), unless already connected."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    runtime_env = None
    if address is None:  # workers of a local Ray import the c3d this driver runs
        import c3d

        source = os.path.dirname(os.path.dirname(os.path.abspath(c3d.__file__)))
        path = os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH"))))
        runtime_env = {"env_vars": {"PYTHONPATH": path}}
    ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def extract_videos_ray(
    videos,
    writer,
    report,
    *,
    weights,
    precision,
    layer,
    stride,
    batch_size,
    clip_format,
    settings=None,
    overwrite=False,
    address=None,
    workers=None,
    gpus_per_worker=None,
):
    """Extract ``videos`` into ``writer`` on Ray, telling ``report`` (as ``extract_videos``)."""
    from c3d.runtime import default_batch_size

    with ray_session(address) as ray:
        gpus_per_worker, workers = _resources(ray, gpus_per_worker, workers)
        batch_size = batch_size or default_batch_size(accelerator=gpus_per_worker > 0)
        claims = Claims(writer.claims_folder)
        parts = os.path.join(os.path.dirname(writer.claims_folder), PARTS)
        todo = []
        try:
            for video in videos:
                if (not overwrite and writer.exists(video.key)) or not claims.acquire(video.key):
                    report.done_elsewhere()
                    continue
                remove_parts(part_folder(parts, video.key))  # a killed run's
                todo.append(video)
            if todo:
                _run(
                    ray,
                    todo,
                    writer,
                    report,
                    claims,
                    parts,
                    model_args={
                        "weights": weights,
                        "precision": precision,
                        "layer": layer,
                        "clip_format": clip_format,
                        "batch_size": batch_size,
                        "parts": parts,
                    },
                    stride=stride,
                    settings=settings,
                    workers=workers,
                    gpus_per_worker=gpus_per_worker,
                )
        finally:
            claims.release_all()


def _run(ray, todo, writer, report, claims, parts, *, model_args, stride, settings, **pool):
    from c3d.video.stream import path_of

    clip_format = model_args["clip_format"]
    context = ray.data.DataContext.get_current()
    saved = context.enable_progress_bars, context.target_max_block_size
    context.enable_progress_bars = False  # the RunReport is the progress bar
    context.target_max_block_size = CHUNK_CLIPS * int(np.prod(clip_format.input_shape)) + 4096
    items = [
        {"index": index, "key": video.key, "path": path_of(video)}
        for index, video in enumerate(todo)
    ]
    dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 1000))
    dataset = dataset.map_batches(
        decode_videos,
        batch_size=1,
        batch_format="numpy",
        fn_kwargs={"clip_format": clip_format, "stride": stride},
        # Spread over the nodes; also keeps Ray Data from fusing decoding into the actors
        # (it fuses operators whose remote arguments match), so decoding stays in CPU tasks.
        scheduling_strategy="SPREAD",
    )
    dataset = dataset.map_batches(
        ModelReplica,
        fn_constructor_kwargs=model_args,
        batch_size=model_args["batch_size"],
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=pool["workers"]),
        num_gpus=pool["gpus_per_worker"],
        scheduling_strategy="DEFAULT",  # not SPREAD's: no fusion (see above)
    )
    assemble_task = ray.remote(max_retries=-1)(assemble)
    state = {}  # index -> _Video, for the videos in flight
    closed = set()  # videos assembled or failed: rows still coming for them are dropped
    running = {}  # assembly ObjectRef -> index

    def close(index, result):
        video = todo[index]
        if result is not None:
            errno, reason = result
            fatal = fatal_write_error(writer.describe(), OSError(errno, reason))
            if fatal is not None:
                raise fatal
            report.failure(f"{path_of(video)}: cannot write its features ({reason})")
            return
        claims.release(video.key)
        report.video_done()

    def collect(timeout):
        if not running:
            return
        ready, _ = ray.wait(list(running), num_returns=len(running), timeout=timeout)
        for ref in ready:
            close(running.pop(ref), ray.get(ref))

    quiet = logging.getLogger("ray.data")  # its INFO lines would break the progress bar
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            new_clips = 0
            for row, index in enumerate(batch["index"]):
                index = int(index)
                if index in closed:
                    continue
                video = state.setdefault(index, _Video())
                start = int(batch["start"][row])
                if start >= 0:
                    new_clips += start not in video.starts
                    video.starts.add(start)
                elif video.end is None:
                    video.end = {name: batch[name][row] for name in batch}
                if video.end is None:
                    continue
                key = todo[index].key
                if video.end["error"]:
                    closed.add(index)
                    del state[index]
                    remove_parts(part_folder(parts, key))
                    report.failure(str(video.end["error"]))
                elif len(video.starts) == int(video.end["n_clips"]):
                    closed.add(index)
                    del state[index]
                    ref = assemble_task.remote(
                        part_folder(parts, key),
                        writer.staged_path(key),
                        len(video.starts),
                        float(video.end["fps"]),
                        int(video.end["n_frames"]),
                        bool(video.end["padded"]),
                        settings,
                    )
                    running[ref] = index
            if new_clips:
                report.clips_done(new_clips)
            collect(timeout=0)
        collect(timeout=None)
        for index, video in enumerate(todo):
            if index not in closed:  # cannot happen: Ray brings back every row
                report.failure(f"{path_of(video)}: no result from the Ray cluster")
            # Parts written after their video was closed: by a batch redone after the
            # assembly, or clips of a video whose decoding failed after them.
            remove_parts(part_folder(parts, video.key))
    finally:
        context.enable_progress_bars, context.target_max_block_size = saved
        quiet.setLevel(level)
        for ref in running:
            ray.cancel(ref)
