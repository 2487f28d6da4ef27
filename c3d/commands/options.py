"""Options shared by the commands that run C3D over videos (``extract``, ``classify``,
``evaluate``, ``train``): their arguments, defaults and checks, in one place."""


def check_positive(name, value):
    """Refuse a number option below 1, in one line."""
    from c3d.errors import C3DError

    if value is not None and value < 1:
        raise C3DError(f"{name} must be at least 1, got {value}")


def add_model_arguments(parser):
    """--model, --weights, --stride, --batch-size, --mean and --precision."""
    from c3d.model.architectures import MODEL_NAMES
    from c3d.model.loader import DEFAULT_WEIGHTS, PRECISIONS
    from c3d.model.presets import CACHE_ENV, DEFAULT_CACHE, DEFAULT_PRESETS
    from c3d.video.clips import DEFAULT_STRIDE

    parser.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default=None,
        help="c3d, or res3d18 (Res3D-18, C3D v1.1: 8 frames every 2nd, 512-value pool5); "
        "default: the weights file's",
    )
    parser.add_argument(
        "--weights",
        default=None,
        metavar="NAME|FILE",
        help=f"weights name or Keras weights file (default {DEFAULT_WEIGHTS}, or "
        f"{DEFAULT_PRESETS['res3d18']} with --model res3d18: the converted weights in "
        f"${CACHE_ENV}, else {DEFAULT_CACHE}; `c3d fetch-weights` puts Sports-1M's there)",
    )
    parser.add_argument(
        "--stride",
        type=int,
        default=DEFAULT_STRIDE,
        help=f"frames between clip starts ({DEFAULT_STRIDE})",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="clips per model call (8 on CPU, 32 on GPU)"
    )
    parser.add_argument(
        "--mean", default=None, help="mean cube .npy/.npz/.binaryproto (default: shipped one)"
    )
    parser.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        default="fp32",
        help="fp32 (as the original C3D), or bf16: ~2x faster on GPUs and CPUs with "
        "AVX-512 BF16/AMX, features within ~0.5%% of fp32's",
    )


def resolve_model(model, weights):
    """(--model, weights file) of a run: ``--weights`` (default: the model's preset) and
    the model its file holds; a ``--model`` the file does not hold is refused in one line."""
    from c3d.model.loader import DEFAULT_WEIGHTS, check_kind, resolve_weights
    from c3d.model.presets import DEFAULT_PRESETS
    from c3d.model.weights import file_architecture

    path = resolve_weights(weights or DEFAULT_PRESETS.get(model, DEFAULT_WEIGHTS))
    return check_kind(path, model, file_architecture(path)), path


def add_decoders_argument(parser, *former_names):
    """--decoders (``former_names``: what a command called it before, still taken)."""
    former = f"; {', '.join(former_names)}: its former name" if former_names else ""
    parser.add_argument(
        "--decoders",
        *former_names,
        dest="decoders",
        type=int,
        default=None,
        metavar="N",
        help="video decoding threads (default: 1 on a CPU, 2-8 on a GPU); with more decoders "
        f"than videos, long videos are cut into parts decoded at once (same results){former}",
    )


def add_decoding_arguments(parser):
    """--decoders and --gpu-decode."""
    add_decoders_argument(parser)
    parser.add_argument(
        "--gpu-decode",
        action="store_true",
        help="decode on the GPU with OpenCV's cudacodec (needs an OpenCV built with CUDA; "
        "features differ slightly from CPU decoding's)",
    )


def check_decoding(args):
    """Refuse --decoders below 1, and --gpu-decode where this OpenCV cannot do it."""
    from c3d.errors import C3DError

    if args.decoders is not None and args.decoders < 1:
        raise C3DError(f"--decoders must be at least 1, got {args.decoders}")
    if args.gpu_decode:
        from c3d.video.decode import gpu_decoding_available

        if not gpu_decoding_available():
            raise C3DError(
                "--gpu-decode: this OpenCV cannot decode on a GPU (it needs cv2.cudacodec, "
                "from an OpenCV built with CUDA and NVCUVID, and a CUDA device)"
            )
