"""C3D features of videos: ``extract_features`` for one video, ``extract_videos`` for many.

The data path (see ``c3d.pipeline``): frames decoded and resized to 128×171 as they
stream in → 16-frame clips every ``stride`` frames → mean cube subtracted, centre
112×112 crop → batches → the model up to ``layer``. Each clip's features are those of
``model(preprocess_input(frames))`` on that clip's raw frames.
"""

import contextlib

from c3d.clips import DEFAULT_STRIDE
from c3d.loading import DEFAULT_WEIGHTS, cached_c3d, feature_model, mean_block_for, predict_fn
from c3d.pipeline import path_of, run_videos
from c3d.video import VideoError
from c3d.writers import feature_arrays


def balanced_batch_size(path, stride, largest):
    """A batch size for one video: at most ``largest``, with as little padding as possible.

    The pipeline pads the last batch to full size; for one video, splitting its clips
    (counted from the frames its header declares) evenly wastes less: 12 clips with
    ``largest`` 8 run as 2 batches of 6, not 8 + 4 padded to 8.
    """
    from c3d.clips import clip_starts
    from c3d.video import declared_frame_count, open_video

    try:
        capture = open_video(path)
    except VideoError:
        return largest  # the pipeline reports why
    try:
        n_clips = len(clip_starts(declared_frame_count(capture), stride))
    finally:
        capture.release()
    if n_clips == 0:
        return largest
    n_batches = -(-n_clips // largest)
    return -(-n_clips // n_batches)


def run_one(path, predict, *, stride, batch_size, mean, decoders=1):
    """The VideoResult of one video; raises VideoError (a C3DError) if it failed.

    Without ``batch_size``, batches are sized for this video (``balanced_batch_size``).
    """
    from c3d.pipeline import default_batch_size

    mean_block = mean_block_for(mean)
    if batch_size is None:
        batch_size = balanced_batch_size(path, stride, default_batch_size())
    results = run_videos(
        [path],
        predict,
        stride=stride,
        mean_block=mean_block,
        batch_size=batch_size,
        decoders=decoders,
    )
    with contextlib.closing(results):
        for result in results:
            if not result.ok:
                raise VideoError(result.reason)
            return result
    raise VideoError(f"{path}: no result")  # unreachable: run_videos yields one per video


def result_arrays(result):
    """The output arrays (as in the npz) of a pipeline VideoResult."""
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
        batch_size: clips per model call; default: up to 8 on CPU, 32 on a GPU, split
            evenly over the video's clips. Results can differ from ``c3d extract``'s in
            the last bits when the batch sizes differ (kernels are chosen per batch
            shape); pass the same ``batch_size`` for bit-identical ones.
        mean: a mean cube (3, 16, H, W) in Caffe order, a .npy/.npz/.binaryproto file,
            or None for the shipped Sports-1M mean.
        weights: weights file used when ``model`` is None.
        precision: ``fp32`` or ``bf16``, for the model loaded when ``model`` is None
            (see ``c3d.loading.load_c3d``).

    Returns:
        dict with ``clips`` (N, D) float32, ``video`` (D,) the L2-normalised mean of
        ``clips``, ``starts`` (N,) first frame of each clip, ``fps``, ``n_frames``
        (frames decoded) and ``padded`` (the video was shorter than one clip).

    Raises:
        c3d.video.VideoError (a c3d.errors.C3DError) for a missing, empty, truncated or
        undecodable video; C3DError for missing weights.
    """
    if model is None:
        model = cached_c3d(weights, precision)
    predict = predict_fn(feature_model(model, layer))
    result = run_one(path, predict, stride=stride, batch_size=batch_size, mean=mean)
    return result_arrays(result)


def extract_videos(
    videos, model, writer, report, *, layer, stride, batch_size, mean_block, decoders=None
):
    """Extract ``videos`` (inputs.VideoInput) into ``writer``, telling ``report`` how it goes.

    A video that fails — unreadable, or its output cannot be written — is reported and
    the run goes on.
    """
    predict = predict_fn(feature_model(model, layer))
    results = run_videos(
        videos,
        predict,
        stride=stride,
        mean_block=mean_block,
        batch_size=batch_size,
        decoders=decoders,
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
