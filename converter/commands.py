"""``c3d convert``, ``c3d convert-mean`` and ``c3d fetch-weights`` (``make convert-weights``).

Results (the layer mapping table) go to stdout, logs and progress to stderr. Keras and
TensorFlow load only when a conversion runs, so ``c3d --help`` stays fast.
"""

import os
import sys

from c3d.errors import C3DError
from c3d.model.presets import CACHE_ENV, DEFAULT_CACHE, SPORTS1M, cache_dir


def add_arguments(name, parser):
    if name == "convert":
        parser.description = (
            "Convert C3D weights to Keras 3 weights for c3d.C3D_model: a Caffe model (C3D "
            "v1.0 fork or upstream Caffe), a PyTorch file (DavideA/c3d-pytorch's c3d.pickle, "
            "mmaction2's C3D checkpoints; needs torch) or a Keras 1/2 .h5 of the earlier "
            "Keras ports; or a Res3D-18 Caffe model (C3D v1.1, for c3d.Res3D18), told by "
            "its layers. The format is told from the file's content, not its name, and "
            "said on stderr; fc8's class count comes from the file. Prints the layer "
            "mapping on stdout."
        )
        parser.add_argument("source", metavar="FILE", help="the weights file to convert")
        parser.add_argument("output", metavar="OUT.weights.h5", help="Keras weights to write")
        parser.add_argument(
            "--num-classes",
            type=int,
            metavar="N",
            help="for a file without fc8 (mmaction2's Sports-1M backbone): add a fresh, "
            "random N-way fc8 (default: write no fc8, a model for features)",
        )
    elif name == "convert-mean":
        parser.description = (
            "Convert a Caffe mean .binaryproto (either format) to a float32 .npy of shape "
            "(C, L, H, W) = (3, frames, height, width), channels BGR: Caffe's own order, "
            "the layout of c3d's shipped mean cube and what --mean accepts."
        )
        parser.add_argument("mean", metavar="MEAN.binaryproto", help="the Caffe mean file")
        parser.add_argument("output", metavar="OUT.npy", help="numpy file to write")
    elif name == "fetch-weights":
        parser.description = (
            f"Download the C3D authors' Sports-1M model ({SPORTS1M.source_file}, ~320 MB) "
            f"into MODELS_DIR unless it is there (a partial download is resumed), then "
            f"convert it to MODELS_DIR/{SPORTS1M.file_name}, where --weights sports1m "
            f"(the default of c3d extract and classify) finds it."
        )
        parser.add_argument(
            "--models-dir",
            default=None,
            help=f"folder for both files (default: the weights cache, ${CACHE_ENV} if set, "
            f"else {DEFAULT_CACHE})",
        )
        parser.add_argument(
            "--caffemodel", metavar="PATH", help="use this .caffemodel instead of downloading"
        )
        parser.add_argument(
            "--url",
            action="append",
            metavar="URL",
            help="download from URL (repeatable; default: " + " then ".join(SPORTS1M.urls) + ")",
        )
    else:
        raise ValueError(f"converter.commands has no command {name!r}")


def _convert(source, output, num_classes=None):
    from converter.convert import convert_weights, format_table

    if "tensorflow" not in sys.modules:
        # oneDNN's allocator keeps freed buffers pooled: ~250 MB more peak memory while
        # Keras initialises the model. A conversion runs no convolution, so it loses
        # nothing by doing without.
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

    conversion = convert_weights(source, output, num_classes)
    print(format_table(conversion.rows, conversion.source.column), flush=True)


def _convert_mean(mean_path, output):
    import numpy as np

    from c3d.atomic import atomic_output
    from c3d.video.clip_format import ClipFormat
    from converter.caffe.blobs import read_mean_blob

    if not os.fspath(output).endswith(".npy"):
        raise C3DError(f"{output}: the output must be named *.npy")
    mean = read_mean_blob(mean_path)
    try:
        ClipFormat(mean=mean)  # the check extraction will make: 16 frames, covers the crop
    except C3DError as exc:
        raise C3DError(f"{mean_path}: not usable as a C3D mean: {exc}") from None
    with atomic_output(output) as tmp_path:
        np.save(tmp_path, mean)
    channel_means = ", ".join(f"{m:.2f}" for m in mean.mean(axis=(1, 2, 3)))
    print(f"{output}: float32 {mean.shape} (C, L, H, W), BGR channel means {channel_means}")


def _fetch_weights(models_dir, caffemodel, urls):
    from converter.download import fetch

    models_dir = cache_dir() if models_dir is None else models_dir
    if caffemodel is None:
        caffemodel = fetch(os.path.join(models_dir, SPORTS1M.source_file), urls or SPORTS1M.urls)
    elif not os.path.isfile(caffemodel):
        raise C3DError(f"{caffemodel}: no such file")
    os.makedirs(models_dir, exist_ok=True)
    _convert(caffemodel, os.path.join(models_dir, SPORTS1M.file_name))


def run(args):
    if args.command == "convert":
        _convert(args.source, args.output, args.num_classes)
    elif args.command == "convert-mean":
        _convert_mean(args.mean, args.output)
    elif args.command == "fetch-weights":
        _fetch_weights(args.models_dir, args.caffemodel, args.url)
    else:
        raise C3DError(f"unknown command {args.command!r}")
    return 0
