"""C3D features of videos: ``extract_features`` for one video, ``extract_videos`` for many.

The data path is ``c3d.video.stream``'s: frames decoded and resized to 128×171 as they
stream in → 16-frame clips every ``stride`` frames → mean cube subtracted, centre
112×112 crop → batches → the model up to ``layer``. Each clip's features are those of
``model(preprocess_input(frames))`` on that clip's raw frames.
"""

import contextlib

from c3d.extraction.writers import feature_arrays
from c3d.model.builder import feature_model
from c3d.model.inference import predict_fn
from c3d.model.loader import DEFAULT_WEIGHTS, cached_model
from c3d.runtime import default_batch_size
from c3d.video.clip_format import ClipFormat
from c3d.video.clips import DEFAULT_STRIDE
from c3d.video.decode import VideoError
from c3d.video.stream import path_of, run_videos


def run_one(path, predict, *, stride, batch_size, mean):
    """The VideoResult of one video; raises VideoError (a C3DError) if it failed.

    Its last batch runs at its own size: nothing is wasted on padding clips. Decoders
    are the default's (1 on CPU; on a GPU several, which cut a long video into parts).
    """
    results = run_videos(
        [path],
        predict,
        stride=stride,
        clip_format=ClipFormat(mean=mean),
        batch_size=batch_size or default_batch_size(),
        pad_last=False,
    )
    with contextlib.closing(results):
        for result in results:
            if not result.ok:
                raise VideoError(result.reason)
            return result
    raise VideoError(f"{path}: no result")  # unreachable: run_videos yields one per video


def result_arrays(result):
    """The output arrays (as in the npz) of a stream VideoResult."""
    return feature_arrays(result.outputs, result.starts, result.fps, result.n_frames, result.padded)


def extract_features(
    path,
    model=None,
    layer=None,
    stride=DEFAULT_STRIDE,
    batch_size=None,
    mean=None,
    weights=DEFAULT_WEIGHTS,
    precision="fp32",
):
    """C3D features of one video, as the arrays ``c3d extract`` writes to its npz.

    Args:
        path: a video file.
        model: a full Sports-1M C3D (``c3d.C3D_model``) or a feature extractor
            (``c3d.create_features_extractor``); None loads ``weights`` once per process.
        layer: ``fc6``, ``fc7`` (4096 values, post-ReLU) or ``pool5`` (8192, flattened).
            None: fc6 of a full model, or what an extractor given as ``model`` outputs.
        stride: frames between the starts of consecutive 16-frame clips.
        batch_size: clips per model call; default 8 on CPU, 32 on a GPU. Results can
            differ from ``c3d extract``'s in the last bits when batch shapes differ
            (kernels are chosen per batch shape); ``c3d extract`` pads every batch to
            ``--batch-size``.
        mean: a mean cube (3, 16, H, W) in Caffe order, a .npy/.npz/.binaryproto file,
            or None for the shipped Sports-1M mean.
        weights: weights file used when ``model`` is None.
        precision: ``fp32`` or ``bf16``, for the model loaded when ``model`` is None
            (see ``c3d.model.loader.load_model``).

    Returns:
        dict with ``clips`` (N, D) float32, ``video`` (D,) the L2-normalised mean of
        ``clips``, ``starts`` (N,) first frame of each clip, ``fps``, ``n_frames``
        (frames decoded) and ``padded`` (the video was shorter than one clip).

    Raises:
        c3d.video.decode.VideoError (a c3d.errors.C3DError) for a missing, empty,
        truncated or undecodable video; C3DError for missing weights.
    """
    if model is None:
        model = cached_model(weights, precision)
    predict = predict_fn(feature_model(model, layer))
    result = run_one(path, predict, stride=stride, batch_size=batch_size, mean=mean)
    return result_arrays(result)


def extract_videos(
    videos,
    model,
    writer,
    report,
    *,
    layer,
    stride,
    batch_size,
    clip_format,
    decoders=None,
    gpu_decode=False,
):
    """Extract ``videos`` (``c3d.video.inputs.VideoInput``) into ``writer``, telling ``report``.

    A video that fails — unreadable, or its output cannot be written — is reported and
    the run goes on.
    """
    predict = predict_fn(feature_model(model, layer))
    results = run_videos(
        videos,
        predict,
        stride=stride,
        clip_format=clip_format,
        batch_size=batch_size,
        decoders=decoders,
        gpu_decode=gpu_decode,
        on_batch=report.clips_done,
    )
    with contextlib.closing(results):
        for result in results:
            if not result.ok:
                report.failure(result.reason)
                continue
            try:
                writer.write(result.video.key, result_arrays(result))
            except OSError as exc:
                reason = exc.strerror or str(exc)
                report.failure(f"{path_of(result.video)}: cannot write its features ({reason})")
                continue
            report.video_done()
