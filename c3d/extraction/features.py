"""C3D features of videos: ``extract_features`` for one video, ``extract_videos`` for many.

The data path is ``c3d.video.stream``'s: frames decoded and resized to 128×171 as they
stream in → 16-frame clips every ``stride`` frames → mean cube subtracted, centre
112×112 crop → batches → the model up to ``layer``. Each clip's features are those of
``model(preprocess_input(frames))`` on that clip's raw frames.
"""

import contextlib

from c3d.errors import C3DError
from c3d.extraction.engines.delivery import ExtractionJob, result_arrays
from c3d.extraction.engines.local import LocalEngine
from c3d.extraction.engines.model import FeatureModel
from c3d.model.builder import feature_model
from c3d.model.inference import predict_fn
from c3d.model.loader import DEFAULT_WEIGHTS, cached_model
from c3d.pipeline.settings import StreamSettings
from c3d.pipeline.threads import run_videos
from c3d.runtime import default_batch_size, default_decoders
from c3d.video.clip_format import ClipFormat
from c3d.video.clips import DEFAULT_STRIDE
from c3d.video.decode import VideoError

__all__ = ["clip_format_for", "extract_features", "extract_videos", "result_arrays", "run_one"]


def clip_format_for(model, mean=None, crops=1):
    """The ClipFormat of the clips ``model`` takes (C3D's 16x112x112, or its own shape)."""
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 5 or shape[-1] != 3 or None in shape[1:]:
        raise C3DError(
            f"the model takes input of shape {shape}; C3D clips are (batch, frames, height, "
            "width, 3)"
        )
    return ClipFormat.from_input_shape(shape[1:], mean=mean, crops=crops)


def run_one(path, predict, *, clip_format, stride, batch_size):
    """The VideoResult of one video; raises VideoError (a C3DError) if it failed.

    Its last batch runs at its own size: nothing is wasted on padding clips. Decoders
    are the default's (1 on CPU; on a GPU several, which cut a long video into parts).
    """
    settings = StreamSettings(
        clip_format=clip_format,
        stride=stride,
        batch_size=batch_size or default_batch_size(),
        pad_last=False,
        decoders=default_decoders(),
    )
    results = run_videos([path], predict, settings)
    with contextlib.closing(results):
        for result in results:
            if not result.ok:
                raise VideoError(result.reason)
            return result
    raise VideoError(f"{path}: no result")  # unreachable: run_videos yields one per video


def extract_features(
    path,
    model=None,
    layer=None,
    stride=DEFAULT_STRIDE,
    batch_size=None,
    mean=None,
    weights=DEFAULT_WEIGHTS,
    precision="fp32",
    crops=1,
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
        weights: a weights name (``"sports1m"``, the default: the converted Sports-1M
            weights in the cache, see ``c3d.model.presets``) or file, used when ``model``
            is None.
        precision: ``fp32`` or ``bf16``, for the model loaded when ``model`` is None
            (see ``c3d.model.loader.load_model``).
        crops: 1 (the centre crop, as C3D) or 10 (torchvision's ``TenCrop``, as RTFM:
            ten forward passes a clip, ``clips`` (N, 10, D)); see ``c3d.video.clip_format``.

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
    extractor = feature_model(model, layer)
    clip_format = clip_format_for(extractor, mean, crops)
    result = run_one(
        path, predict_fn(extractor), clip_format=clip_format, stride=stride, batch_size=batch_size
    )
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
    settings=None,
    decoders=None,
    overwrite=False,
    gpu_decode=False,
    fps=None,
):
    """Extract ``videos`` (``c3d.video.inputs.VideoInput``) into ``writer`` with a loaded
    ``model``, telling ``report``: the local engine (``c3d.extraction.engines.local``).

    Each video is claimed just before it is decoded (``c3d.extraction.claims``), so
    processes sharing the output split the work; a video done or claimed by another
    process is skipped. A video that fails — unreadable, its output cannot be written, or
    the writer refuses its features (``OutputRefused``) — is reported and the run goes on;
    a full or read-only disk stops it (one line, ``C3DError``).
    """
    job = ExtractionJob(
        model=FeatureModel(model, layer),
        clip_format=clip_format,
        stride=stride,
        batch_size=batch_size,
        fps=fps,
        provenance=settings,
        overwrite=overwrite,
    )
    LocalEngine(job, decoders=decoders, gpu_decode=gpu_decode).run(videos, writer, report)
