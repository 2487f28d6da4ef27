"""Options shared by the commands that run C3D over videos (``extract``, ``classify``)."""


def add_model_arguments(parser):
    """--weights, --stride, --batch-size, --mean and --precision."""
    from c3d.model.loader import DEFAULT_WEIGHTS, PRECISIONS
    from c3d.model.presets import CACHE_ENV, DEFAULT_CACHE

    parser.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        metavar="NAME|FILE",
        help=f"weights name or Keras weights file (default {DEFAULT_WEIGHTS}: the converted "
        f"Sports-1M weights in ${CACHE_ENV}, else {DEFAULT_CACHE}; `c3d fetch-weights` "
        "puts them there)",
    )
    parser.add_argument("--stride", type=int, default=8, help="frames between clip starts (8)")
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
