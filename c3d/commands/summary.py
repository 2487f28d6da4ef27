"""``c3d summary``: print the layer table of C3D or C3D-BN."""

from c3d.model.loader import MODEL_KINDS
from c3d.model.plan import CLIP_SHAPE

DEFAULT_SHAPE = ",".join(map(str, CLIP_SHAPE))  # --input-shape of C3D's own clips: 16,112,112


def add_arguments(parser):
    parser.add_argument("--model", choices=MODEL_KINDS, default="c3d")
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument(
        "--input-shape", default=DEFAULT_SHAPE, help=f"T,H,W of the clip (default {DEFAULT_SHAPE})"
    )


def parse_input_shape(text):
    """'16,112,112' -> (16, 112, 112, 3), checked against C3D's pools (one-line errors)."""
    from c3d.errors import C3DError
    from c3d.model.plan import check_input_shape

    try:
        frames, height, width = (int(part) for part in text.split(","))
    except ValueError:
        raise C3DError(
            f"--input-shape must be T,H,W (e.g. {DEFAULT_SHAPE}), got {text!r}"
        ) from None
    try:
        return check_input_shape((frames, height, width, 3))
    except ValueError as exc:
        raise C3DError(f"--input-shape {text}: {exc}") from None


def run(args):
    shape = parse_input_shape(args.input_shape)  # before Keras loads: bad input fails fast

    from c3d.model.builder import BN_NUM_CLASSES, C3D
    from c3d.model.plan import NUM_CLASSES

    batch_norm = args.model == "c3d_bn"
    classes = args.num_classes or (BN_NUM_CLASSES if batch_norm else NUM_CLASSES)
    model = C3D(num_classes=classes, input_shape=shape, batch_norm=batch_norm)
    model.summary()
    return 0
