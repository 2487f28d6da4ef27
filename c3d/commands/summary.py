"""``c3d summary``: print the layer table of C3D or C3D-BN."""


def add_arguments(parser):
    parser.add_argument("--model", choices=("c3d", "c3d_bn"), default="c3d")
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument(
        "--input-shape", default="16,112,112", help="T,H,W of the clip (default 16,112,112)"
    )


def parse_input_shape(text):
    """'16,112,112' -> (16, 112, 112, 3)."""
    from c3d.errors import C3DError

    try:
        frames, height, width = (int(part) for part in text.split(","))
    except ValueError:
        raise C3DError(f"--input-shape must be T,H,W (e.g. 16,112,112), got {text!r}") from None
    return frames, height, width, 3


def run(args):
    import c3d

    shape = parse_input_shape(args.input_shape)
    if args.model == "c3d":
        model = c3d.C3D_model(num_classes=args.num_classes or 487, input_shape=shape)
    else:
        model = c3d.C3D_BN(num_classes=args.num_classes or 8, input_shape=shape)
    model.summary()
    return 0
