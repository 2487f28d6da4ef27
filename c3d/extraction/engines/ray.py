"""The Ray engine: the core's stages (``c3d.pipeline``) scheduled on a Ray cluster.

::

    driver         videos → {index, key, path} rows (claims are taken where work starts)
    CPU tasks      ``decoding.decode_video`` with the run's ``ClaimCheck``: each clip's views
                   as uint8 rows (ROWS_PER_BLOCK a block), then one end row per video
    actor pool     ``replicas`` model replicas (``gpus_per_replica`` each): ``batching
                   .model_rows`` (padding to ``batch_size``; the model, uint8 in, the mean
                   subtracted in its graph) → each
                   batch's rows as part files per video, in a folder of this run
    driver         ``assembly.Completion`` per video; once complete, an assembly task reads
                   its part files (``assembly.Assembly``) and writes it with the local
                   engine's ``delivery.write_output``; the driver applies its ``Outcome``

Why this shape:

- The same arrays as the local engine: the same decoding generators, uint8 view crops, the
  same mean subtraction (in the model's graph) and zero padding to ``batch_size``
  (``c3d.pipeline.batching``), the
  same assembly and writers. Every option therefore works here: ``--preset``, ``--crops
  10``, ``--fps``, ``--format h5`` (tasks stage, the driver packs at the end).
- Memory stays bounded on the driver: it holds a set of (start, view, part) per video in
  flight, never features; a decoding task's clips leave it in blocks of ROWS_PER_BLOCK
  rows (``DataContext.target_max_block_size``); a video's features are held once, by its
  assembly task (fc6 of an hour of 30 fps video at stride 8: 13,500 × 16 KB = 221 MB).
- Claims: a decoding task claims its video just before decoding it, on the driver's
  behalf (the claim names the driver), so runs sharing the output — local or Ray — split
  the work video by video, and a killed driver's claims are taken over like a killed
  local run's.
- Faults are Ray's to handle: Ray Data restarts a killed actor and retries its batches,
  retries tasks of a lost node and rebuilds lost blocks from lineage; assembly tasks are
  retried. A batch done twice writes the same part file again (atomic rename), the
  completion counts each (start, view, part) once and the assembly keeps each once, so a
  redone clip is neither lost nor counted twice, and each video is written once.
"""

import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
import socket

import numpy as np

from c3d.errors import C3DError
from c3d.extraction.engines.delivery import Delivery, Outcome, write_output
from c3d.pipeline import decoding
from c3d.pipeline.assembly import Assembly, Completion
from c3d.pipeline.batching import model_rows
from c3d.pipeline.messages import (
    Clip,
    VideoDone,
    VideoFailed,
    VideoTurnedDown,
    path_of,
)
from c3d.video.inputs import VideoInput

INSTALL_HINT = "--engine ray needs Ray: pip install 'c3d-keras[ray]'"
ROWS_PER_BLOCK = 16  # rows a block from a decoding task: 9.6 MB of uint8 16x112x112x3 views
PARTS = "ray-parts"  # beside the claims: each run's part files until a video is assembled
_KINDS = {VideoDone: "done", VideoFailed: "failed", VideoTurnedDown: "turned_down"}


def import_ray():
    """The ray module, or a one-line C3DError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise C3DError(INSTALL_HINT) from None
    return ray


# --- messages as Ray Data rows ----------------------------------------------------------
def _rows(index, count, crops, *, starts=(), views=(), end="", done=None, error=""):
    """Columns of ``count`` rows of one video: clip views (``end`` "") or its end row."""
    done = done or VideoDone(index, 0, 0.0, 0, False)
    source_fps = np.nan if done.source_fps is None else done.source_fps
    return {
        "index": np.full(count, index, np.int64),
        "start": np.asarray(starts if starts else [-1] * count, np.int64),
        "view": np.asarray(views if views else [0] * count, np.int64),
        "part": np.zeros(count, np.int64),
        "crops": crops,
        "end": np.array([end] * count, dtype=object),
        "n_clips": np.full(count, done.n_clips, np.int64),
        "fps": np.full(count, done.fps, np.float64),
        "n_frames": np.full(count, done.n_frames, np.int64),
        "padded": np.full(count, done.padded, np.bool_),
        "source_fps": np.full(count, source_fps, np.float64),
        "error": np.array([error] * count, dtype=object),
    }


def _end_row(message, input_shape):
    empty = np.zeros((1, *input_shape), np.uint8)
    kind = _KINDS[type(message)]
    if isinstance(message, VideoDone):
        return _rows(message.index, 1, empty, end=kind, done=message)
    return _rows(message.index, 1, empty, end=kind, error=getattr(message, "reason", ""))


def _end_message(batch, row):
    index, kind = int(batch["index"][row]), str(batch["end"][row])
    if kind == "failed":
        return VideoFailed(index, str(batch["error"][row]))
    if kind == "turned_down":
        return VideoTurnedDown(index)
    source_fps = float(batch["source_fps"][row])
    return VideoDone(
        index,
        int(batch["n_clips"][row]),
        float(batch["fps"][row]),
        int(batch["n_frames"][row]),
        bool(batch["padded"][row]),
        source_fps=None if np.isnan(source_fps) else source_fps,
    )


def decode_videos(batch, *, settings, claim):
    """Ray Data UDF: each video of ``batch`` through ``decoding.decode_video``, its clips'
    views as rows (ROWS_PER_BLOCK a block), then its end row."""
    shape = settings.clip_format.input_shape
    for index, key, path in zip(batch["index"], batch["key"], batch["path"], strict=True):
        index, video = int(index), VideoInput(str(path), str(key))
        starts, views, crops = [], [], []
        for message in decoding.decode_video(index, video, settings, claim):
            if not isinstance(message, Clip):  # the end message, always last
                if starts:
                    yield _rows(index, len(starts), np.stack(crops), starts=starts, views=views)
                yield _end_row(message, shape)
                break
            for view in range(message.n_views):
                starts.append(message.start)
                views.append(view)
                crops.append(message.view(view))
                if len(starts) == ROWS_PER_BLOCK:
                    yield _rows(index, len(starts), np.stack(crops), starts=starts, views=views)
                    starts, views, crops = [], [], []


# --- the model's actors -----------------------------------------------------------------
def part_folder(root, key):
    """The folder of one video's part files (``.parts``: no clash between keys a and a/b)."""
    return os.path.join(root, *key.split("/")) + ".parts"


def part_name(starts, views):
    """A part file's name: a digest of its rows' places, so that a redone batch holding
    other rows never replaces this one (one holding the same rows writes the same
    features)."""
    places = np.stack([np.asarray(starts, np.int64), np.asarray(views, np.int64)])
    return hashlib.sha1(places.tobytes()).hexdigest()[:20] + ".npz"


class ModelReplica:
    """Ray Data callable class: one model per actor, batches of ``batch_size`` rows."""

    def __init__(self, *, model, clip_format, batch_size, parts, keys):
        self.predict = model.predict()
        self.format, self.batch_size = clip_format, batch_size
        self.parts, self.keys = parts, keys

    def __call__(self, batch):
        rows = np.flatnonzero(batch["end"] == "")
        if len(rows):
            views = batch["view"][rows]
            crops = batch["crops"][rows]
            outputs = model_rows(self.predict, crops, views, self.format, self.batch_size)
            indices = batch["index"][rows]
            for index in np.unique(indices):
                mine = np.flatnonzero(indices == index)
                self._write_part(int(index), batch["start"][rows][mine], views[mine], outputs[mine])
        return {name: value for name, value in batch.items() if name != "crops"}

    def _write_part(self, index, starts, views, outputs):
        from c3d.atomic import atomic_output

        folder = part_folder(self.parts, self.keys[index])
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, part_name(starts, views))
        with atomic_output(path) as tmp_path, open(tmp_path, "wb") as f:
            np.savez(f, starts=starts, views=views, outputs=outputs)


# --- assembly ---------------------------------------------------------------------------
def _part_names(folder):
    """The finished part files of a folder (not the temporaries of a killed writer)."""
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(name for name in names if name.endswith(".npz") and not name.startswith("."))


def read_parts(folder, done, views):
    """An ``Assembly`` of a video's rows from its part files (each row kept once)."""
    assembly = Assembly(views)
    assembly.finish(done)
    for name in _part_names(folder):
        with np.load(os.path.join(folder, name), allow_pickle=False) as data:
            for start, view, output in zip(
                *(data[n] for n in ("starts", "views", "outputs")), strict=True
            ):
                assembly.add_row(start, 0, view, output)
    return assembly


def assemble(folder, video, done, views, writer, provenance):
    """Write one video from its part files (an assembly task); the ``Outcome``."""
    if not os.path.isdir(folder) and writer.exists(video.key):
        return Outcome()  # a retry of a task that finished: nothing left to do
    assembly = read_parts(folder, done, views)
    if not assembly.complete():
        return Outcome(f"{path_of(video)}: the Ray cluster lost some of its clips' features")
    outcome = write_output(writer, video, assembly.result(done.index, video), provenance)
    if outcome.ok:
        remove_parts(folder)
    return outcome


def remove_parts(folder):
    """Remove a video's part files, and the folders above left empty (up to the run's)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder = os.path.dirname(folder)
    while os.path.basename(os.path.dirname(folder)) != PARTS:
        try:
            os.rmdir(folder)
        except OSError:  # not empty: another video's parts are there
            return
        folder = os.path.dirname(folder)


def run_folder(root, owner):
    """This run's folder of part files: named after the process its claims name."""
    return os.path.join(root, f"{owner['host']}-{owner['pid']}-{owner['start']}")


def remove_dead_runs(root):
    """Remove the part files of runs of this host whose driver is gone (killed runs)."""
    from c3d.atomic import pid_alive

    host = socket.gethostname()
    for name in os.listdir(root) if os.path.isdir(root) else []:
        run_host, pid, _ = (name.rsplit("-", 2) + ["", ""])[:3]
        if run_host == host and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


# --- the driver -------------------------------------------------------------------------
def _resources(ray, gpus_per_replica, replicas):
    gpus = ray.cluster_resources().get("GPU", 0)
    if gpus_per_replica is None:
        gpus_per_replica = 1 if gpus else 0
    if replicas is None:
        replicas = max(1, int(gpus // gpus_per_replica)) if gpus_per_replica else 1
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < replicas + 1:  # else decoding tasks would wait for a CPU forever
        raise C3DError(
            f"--replicas {replicas}: each model replica takes a CPU and decoding at least "
            f"one more, and the Ray cluster has {cpus:g} CPUs"
        )
    if gpus_per_replica and gpus < replicas * gpus_per_replica:
        raise C3DError(
            f"--replicas {replicas} with --gpus-per-replica {gpus_per_replica:g} need "
            f"{replicas * gpus_per_replica:g} GPUs; the Ray cluster has {gpus:g}"
        )
    return gpus_per_replica, replicas


@contextlib.contextmanager
def ray_session(address=None):
    """Connect to Ray at ``address`` (None: start a local Ray of this run's own, even where
    another Ray runs on this machine), unless already connected."""
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
    ray.init(address=address or "local", runtime_env=runtime_env, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _quiet_ray_data(ray, settings):
    """Ray Data without its progress bars and INFO lines (the RunReport is the progress
    bar), with blocks of ROWS_PER_BLOCK rows; restored afterwards."""
    context = ray.data.DataContext.get_current()
    saved = context.enable_progress_bars, context.target_max_block_size
    context.enable_progress_bars = False
    row_bytes = int(np.prod(settings.clip_format.input_shape))
    context.target_max_block_size = ROWS_PER_BLOCK * row_bytes + 4096
    quiet = logging.getLogger("ray.data")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        yield
    finally:
        context.enable_progress_bars, context.target_max_block_size = saved
        quiet.setLevel(level)


@dataclasses.dataclass
class _Driver:
    """What the driver does with the rows coming back: completion, assembly, delivery."""

    ray: object
    videos: list
    delivery: Delivery
    parts: str
    views: int
    assemble_task: object

    def __post_init__(self):
        self.completions = {}  # index -> Completion, for the videos in flight
        self.closed = set()  # videos written, failed or turned down: later rows dropped
        self.running = {}  # assembly ObjectRef -> index

    def take(self, batch):
        new_rows = 0
        for row, index in enumerate(batch["index"]):
            index = int(index)
            if index in self.closed:
                continue
            video = self.videos[index]
            if index not in self.completions:
                self.completions[index] = Completion(self.views)
                if batch["end"][row] != "turned_down":
                    self.delivery.claimed(video)
            completion = self.completions[index]
            if batch["end"][row] == "":
                start, view = batch["start"][row], batch["view"][row]
                new_rows += completion.add(start, 0, view)
            else:
                self._end(index, video, _end_message(batch, row))
            if index not in self.closed and completion.complete():
                self._assemble(index, video, completion.done)
        if new_rows:
            self.delivery.rows_done(new_rows)
        self.collect(timeout=0)

    def _end(self, index, video, message):
        if isinstance(message, VideoDone):
            self.completions[index].finish(message)
            return
        self._close(index, video)
        if isinstance(message, VideoFailed):
            self.delivery.failed(message.reason)
        else:
            self.delivery.skipped(video)

    def _close(self, index, video):
        self.closed.add(index)
        self.completions.pop(index, None)
        remove_parts(part_folder(self.parts, video.key))

    def _assemble(self, index, video, done):
        self.closed.add(index)
        del self.completions[index]
        folder = part_folder(self.parts, video.key)
        job = self.delivery.job
        ref = self.assemble_task.remote(
            folder, video, done, self.views, self.delivery.writer, job.provenance
        )
        self.running[ref] = index

    def collect(self, timeout):
        """Apply the outcomes of the assembly tasks done (all, with ``timeout`` None)."""
        if not self.running:
            return
        ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=timeout)
        for ref in ready:
            index = self.running.pop(ref)
            self.delivery.written(self.videos[index], self.ray.get(ref))

    def finish(self):
        self.collect(timeout=None)
        for index, video in enumerate(self.videos):
            if index not in self.closed:  # cannot happen: Ray brings back every row
                self.delivery.failed(f"{path_of(video)}: no result from the Ray cluster")

    def cancel(self):
        for ref in self.running:
            self.ray.cancel(ref)


class RayEngine:
    """``replicas`` model replicas (default one per GPU of the cluster, else 1) with
    ``gpus_per_replica`` GPUs each (default 1 on a cluster with GPUs, else 0), on the Ray
    cluster at ``address`` (None: a local Ray started for the run)."""

    def __init__(self, job, *, address=None, replicas=None, gpus_per_replica=None):
        self.job, self.address = job, address
        self.replicas, self.gpus_per_replica = replicas, gpus_per_replica

    def prepare(self):
        """Nothing to load here: each replica loads the model on its node."""
        import_ray()

    def run(self, videos, writer, report):
        with ray_session(self.address) as ray:
            gpus, replicas = _resources(ray, self.gpus_per_replica, self.replicas)
            # a decoding task holds one CPU: its FFmpeg gets one thread
            settings = dataclasses.replace(self.job.stream(accelerator=gpus > 0), decoder_threads=1)
            delivery = Delivery(self.job, writer, report)
            root = os.path.join(os.path.dirname(writer.claims_folder), PARTS)
            remove_dead_runs(root)
            parts = run_folder(root, delivery.claims.me)
            try:
                with _quiet_ray_data(ray, settings):
                    self._run(ray, list(videos), settings, delivery, parts, gpus, replicas)
            finally:
                delivery.close()
                shutil.rmtree(parts, ignore_errors=True)
                with contextlib.suppress(OSError):
                    os.rmdir(root)

    def _run(self, ray, videos, settings, delivery, parts, gpus, replicas):
        items = [
            {"index": index, "key": video.key, "path": path_of(video)}
            for index, video in enumerate(videos)
        ]
        if not items:
            return
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 1000))
        dataset = dataset.map_batches(
            decode_videos,
            batch_size=1,
            batch_format="numpy",
            fn_kwargs={"settings": settings, "claim": delivery.check},
            # Spread over the nodes; also keeps Ray Data from fusing decoding into the
            # actors (it fuses operators whose remote arguments match).
            scheduling_strategy="SPREAD",
        )
        dataset = dataset.map_batches(
            ModelReplica,
            fn_constructor_kwargs={
                "model": self.job.model,
                "clip_format": settings.clip_format,
                "batch_size": settings.batch_size,
                "parts": parts,
                "keys": [video.key for video in videos],
            },
            batch_size=settings.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=replicas),
            num_gpus=gpus,
            scheduling_strategy="DEFAULT",  # not SPREAD's: no fusion (see above)
        )
        driver = _Driver(
            ray, videos, delivery, parts, settings.views, ray.remote(max_retries=-1)(assemble)
        )
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                driver.take(batch)
            driver.finish()
        finally:
            driver.cancel()
