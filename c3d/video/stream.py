"""``run_videos``: the streaming path from video files to per-video model outputs, with
keyword arguments (kept for scripts and the benchmarks; ``c3d.pipeline`` is the core).

``extract``, ``classify``, ``evaluate`` and training's validation all run through the local
scheduler ``c3d.pipeline.threads``; the result types live in ``c3d.pipeline.messages``.
"""

from c3d.pipeline.messages import (  # noqa: F401  (public names)
    VideoFailure,
    VideoResult,
    VideoSkipped,
    failure_reason,
    one_line,
    path_of,
)
from c3d.pipeline.settings import StreamSettings
from c3d.pipeline.threads import run_videos as _run_videos
from c3d.runtime import default_batch_size, default_decoders
from c3d.video.clip_format import ClipFormat
from c3d.video.clips import DEFAULT_STRIDE


def stream_settings(
    *,
    stride=DEFAULT_STRIDE,
    clip_format=None,
    batch_size=None,
    decoders=None,
    select=None,
    pad_last=True,
    gpu_decode=False,
    fps=None,
):
    """A ``StreamSettings`` from keyword arguments, defaults filled in from the machine."""
    batch_size = default_batch_size() if batch_size is None else batch_size
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return StreamSettings(
        clip_format=ClipFormat() if clip_format is None else clip_format,
        stride=stride,
        batch_size=batch_size,
        pad_last=pad_last,
        fps=fps,
        select=select,
        decoders=decoders or default_decoders(),
        gpu_decode=gpu_decode,
    )


def run_videos(videos, predict, *, on_batch=None, claim=None, **settings):
    """Run ``predict`` on the clips of ``videos``; yield what became of each video.

    Args:
        videos: paths, or objects with a ``.path`` (returned as given in the results).
        predict: ``c3d.model.inference.predict_fn(model)`` (uint8 batches, the mean
            subtracted in the model's graph), or any ``f(batch (B, T, H, W, 3) float32)
            -> (B, …)`` array (mean-subtracted clips, the mean subtracted on the CPU).
        stride: frames between clip starts (8).
        clip_format: how frames become clips (``ClipFormat``: shape, mean, views); default
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
        pad_last: pad the last batch with zero rows to ``batch_size`` (fixed shapes, see
            ``c3d.pipeline.batching``); False runs it at its own size, which wastes nothing
            on a single video (12 clips at batch 8 cost 12, not 16, clip computations).
        claim: ``f(video) -> bool``, asked in a decoder thread just before the video is
            decoded; False skips it (a ``VideoSkipped`` result).
        gpu_decode: decode on the GPU (``c3d.video.decode.GpuCapture``, untested);
            check ``gpu_decoding_available()`` first.
        fps: resample each video to this frame rate before clips are cut
            (``c3d.video.resample``: nearest timestamp); ``starts``, ``n_frames`` and
            ``fps`` of the results are then the resampled stream's, ``source_fps`` the
            file's. Such videos are decoded in one piece. Default: the native rate.

    Yields a VideoResult, VideoFailure or VideoSkipped per video, in the order videos
    finish, not necessarily the order given. Close the generator (or exhaust it) to stop
    the threads; an exception or Ctrl-C in the loop does that too when the generator is
    closed, e.g. with ``contextlib.closing``.
    """
    return _run_videos(videos, predict, stream_settings(**settings), on_batch=on_batch, claim=claim)
