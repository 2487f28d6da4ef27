"""``c3d summary``: print the layer table of C3D, C3D-BN or Res3D-18."""

from c3d.model.loader import MODEL_KINDS
from c3d.model.plan import CLIP_SHAPE

DEFAULT_SHAPE = ",".join(map(str, CLIP_SHAPE))  # --input-shape of C3D's own clips: 16,112,112


def add_arguments(parser):
    parser.add_argument("--model", choices=MODEL_KINDS, default="c3d")
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument(
        "--input-shape",
        default=None,
        help=f"T,H,W of the clip (default {DEFAULT_SHAPE}; res3d18: 8,112,112)",
    )


def parse_input_shape(text, model="c3d"):
    """'16,112,112' -> (16, 112, 112, 3), checked against the model's layers (one-line errors)."""
    from c3d.errors import C3DError
    from c3d.model.architectures import architecture

    check_input_shape = architecture(model).plan.check_input_shape

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
    from c3d.model.architectures import architecture

    default = ",".join(map(str, architecture(args.model).plan.CLIP_SHAPE))
    # before Keras loads: bad input fails fast
    shape = parse_input_shape(args.input_shape or default, args.model)

    from c3d.model.builder import BN_NUM_CLASSES, C3D
    from c3d.model.plan import NUM_CLASSES

    if args.model == "res3d18":
        from c3d.model.res3d18 import Res3D18

        try:
            model = Res3D18(num_classes=args.num_classes or NUM_CLASSES, input_shape=shape)
        except ValueError as exc:
            from c3d.errors import C3DError

            raise C3DError(f"--input-shape {args.input_shape}: {exc}") from None
        model.summary()
        return 0

    batch_norm = args.model == "c3d_bn"
    classes = args.num_classes or (BN_NUM_CLASSES if batch_norm else NUM_CLASSES)
    model = C3D(num_classes=classes, input_shape=shape, batch_norm=batch_norm)
    model.summary()
    return 0
