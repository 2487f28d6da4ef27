"""``c3d convert``, ``c3d convert-mean``, ``c3d fetch-weights [NAME…]`` (``make convert-weights``).

Results (the layer mapping table) go to stdout, logs and progress to stderr. Keras and
TensorFlow load only when a conversion runs, so ``c3d --help`` stays fast.
"""

import os
import sys

from c3d.errors import C3DError
from c3d.model.presets import CACHE_ENV, DEFAULT, DEFAULT_CACHE, MIRRORS_ENV, OFFLINE_ENV, PRESETS


def add_arguments(name, parser):
    if name == "convert":
        parser.description = (
            "Convert C3D weights to Keras 3 weights for c3d.C3D_model: a Caffe model (C3D "
            "v1.0 fork or upstream Caffe), a PyTorch file (DavideA/c3d-pytorch's c3d.pickle, "
            "mmaction2's C3D checkpoints; needs torch) or a Keras 1/2 .h5 of the earlier "
            "Keras ports. The format is told from the file's content, not its name, and "
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
            "Download published C3D weights by name (`c3d weights` lists them) into "
            "MODELS_DIR unless they are there (a partial download is resumed; the size and "
            "sha256 checked where published), then convert them to MODELS_DIR/"
            "c3d_NAME.weights.h5, where --weights NAME finds them. "
            f"{MIRRORS_ENV}: base URLs tried first, the published file name appended; "
            f"{OFFLINE_ENV}=1: convert only what is already there (or download from --url)."
        )
        parser.add_argument(
            "names",
            nargs="*",
            metavar="NAME",
            help=f"weights to fetch: {', '.join(PRESETS)} (default {DEFAULT})",
        )
        parser.add_argument(
            "--models-dir",
            default=None,
            help=f"folder for both files (default: the weights cache, ${CACHE_ENV} if set, "
            f"else {DEFAULT_CACHE})",
        )
        parser.add_argument(
            "--caffemodel",
            metavar="PATH",
            help="convert this copy of the published file instead of downloading (one NAME)",
        )
        parser.add_argument(
            "--url",
            action="append",
            metavar="URL",
            help="download from URL instead of the mirrors and published sources "
            "(repeatable; one NAME)",
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


def _fetch_weights(names, models_dir, caffemodel, urls):
    """Fetch each preset; the layer mapping of each conversion on stdout, as ``convert``'s."""
    import logging

    from c3d.model.presets import offline
    from converter.convert import format_table
    from converter.fetch import fetch_preset

    names = list(dict.fromkeys(names or [DEFAULT]))
    unknown = [name for name in names if name not in PRESETS]
    if unknown:
        raise C3DError(f"unknown weights {unknown[0]!r} (choose from {', '.join(PRESETS)})")
    if (caffemodel or urls) and len(names) > 1:
        raise C3DError("--caffemodel and --url are for one NAME at a time")
    for name in names:
        path = fetch_preset(
            name,
            folder=models_dir,
            allow_download=bool(urls) or not offline(),  # an explicit --url is asked for
            urls=urls,
            source=caffemodel,
            report=lambda c: print(format_table(c.rows, c.source.column), flush=True),
        )
        logging.getLogger(__name__).info("%s: %s", name, path)


def run(args):
    if args.command == "convert":
        _convert(args.source, args.output, args.num_classes)
    elif args.command == "convert-mean":
        _convert_mean(args.mean, args.output)
    elif args.command == "fetch-weights":
        _fetch_weights(args.names, args.models_dir, args.caffemodel, args.url)
    else:
        raise C3DError(f"unknown command {args.command!r}")
    return 0
