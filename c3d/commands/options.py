"""Options shared by the commands that run C3D over videos (``extract``, ``classify``,
``evaluate``, ``train``): their arguments, defaults and checks, and the one place their
numeric ranges live: each option's help says its range, and a value
outside it is refused in one line before any work (``check_range``)."""

import math

MAX_STRIDE = 100_000  # frames: more than an hour at 25 fps between two clips
MAX_TOP = 1000  # classify --top: Sports-1M has 487 classes
MAX_REPLICAS = 1024  # --replicas (Ray model replicas): more than any cluster's GPUs
MAX_GPUS_PER_REPLICA = 64.0
# Host memory a batch row (one view of a clip) takes while a run streams: the batch being
# filled, two queued, one in the model, and the clip queue (2 x batch size rows).
BATCH_COPIES = 6
# On a CPU the model's activations live in host memory too: the largest (conv1's output,
# 64 x 16 x 112 x 112 float32 = 51 MB a row) and its input at once, measured ~100 MB a row
# at batch 8 (peak RSS of `c3d extract`, bench step 4).
ACTIVATION_BYTES_PER_ROW = 2 * 64 * 16 * 112 * 112 * 4


def check_range(option, value, low, high, what=""):
    """``value`` (None: not given) within [low, high], or a one-line C3DError."""
    from c3d.errors import C3DError

    if value is None:
        return None
    if not (low <= value <= high):  # also refuses NaN
        raise C3DError(
            f"{option} must be between {low:g} and {high:g}{what}. Received: {option} {value:g}"
        )
    return value


def range_text(low, high):
    return f"{low:g} to {high:g}"


def max_decoders():
    """--decoders' maximum: 4 threads a CPU (at least 8); each holds a window of frames."""
    from c3d.runtime import available_cpus

    return max(8, 4 * available_cpus())


def row_bytes(views=1, input_shape=None):
    """Bytes of one clip's rows in a batch (float32, ``views`` rows a clip)."""
    from c3d.model.plan import INPUT_SHAPE

    return 4 * math.prod(input_shape or INPUT_SHAPE) * views


def clip_bytes(views=1, on_cpu=True):
    """Host memory a clip of a batch takes during a run: its rows' buffers, and on a CPU the
    model's activations: 117 MB a clip of one view on a CPU, 14 MB with a GPU."""
    return BATCH_COPIES * row_bytes(views) + (ACTIVATION_BYTES_PER_ROW * views if on_cpu else 0)


def max_batch_size(views=1, on_cpu=True, available=None):
    """The largest --batch-size whose buffers (and, on a CPU, activations) fit in the memory
    available now (psutil), at least 1."""
    import psutil

    if available is None:
        available = psutil.virtual_memory().available
    return max(1, int(available // clip_bytes(views, on_cpu)))


def check_batch_size(batch_size, views=1, on_cpu=None):
    """Refuse a --batch-size below 1 or beyond what fits in memory (one line, computed)."""
    import psutil

    from c3d.errors import C3DError

    if batch_size is None:
        return None
    check_range("--batch-size", batch_size, 1, math.inf)
    if on_cpu is None:
        from c3d.runtime import accelerator_present

        on_cpu = not accelerator_present()
    available = psutil.virtual_memory().available
    most = max_batch_size(views, on_cpu, available)
    if batch_size > most:
        where = "buffers and the model's activations" if on_cpu else "buffers"
        raise C3DError(
            f"--batch-size must be between 1 and {most}: the {where} of {batch_size} clips "
            f"({views} view{'s' if views > 1 else ''} each) would take "
            f"{batch_size * clip_bytes(views, on_cpu) / 1e9:.1f} GB, and "
            f"{available / 1e9:.1f} GB of memory is available. Received: --batch-size {batch_size}"
        )
    return batch_size


def add_model_arguments(parser):
    """--weights, --stride, --batch-size, --mean and --precision."""
    from c3d.model.precision import PRECISIONS
    from c3d.model.presets import CACHE_ENV, DEFAULT_CACHE, PRESETS
    from c3d.model.presets import DEFAULT as DEFAULT_WEIGHTS
    from c3d.video.clips import DEFAULT_STRIDE

    parser.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        metavar="NAME|FILE",
        help=f"weights name ({', '.join(PRESETS)}: `c3d weights`) or Keras weights file "
        f"(default {DEFAULT_WEIGHTS}); a name is the converted file in ${CACHE_ENV}, else "
        f"{DEFAULT_CACHE}, fetched there on first use",
    )
    parser.add_argument(
        "--stride",
        type=int,
        default=DEFAULT_STRIDE,
        help=f"frames between clip starts ({DEFAULT_STRIDE}; {range_text(1, MAX_STRIDE)})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="clips per model call (8 on CPU, 32 on GPU; 1 to what fits in the memory "
        f"available, computed at start: {max_batch_size()} on this machine's CPU now)",
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
        help="video decoding threads (default: 1 on a CPU, 2-8 on a GPU; "
        f"{range_text(1, max_decoders())}: 4 a CPU here); with more decoders than videos, "
        f"long videos are cut into parts decoded at once (same results){former}",
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
    """Refuse --decoders outside its range, and --gpu-decode where this OpenCV cannot do it."""
    from c3d.errors import C3DError

    check_range("--decoders", args.decoders, 1, max_decoders(), " (4 threads a CPU)")
    if args.gpu_decode:
        from c3d.video.decode import gpu_decoding_available

        if not gpu_decoding_available():
            raise C3DError(
                "--gpu-decode: this OpenCV cannot decode on a GPU (it needs cv2.cudacodec, "
                "from an OpenCV built with CUDA and NVCUVID, and a CUDA device)"
            )
