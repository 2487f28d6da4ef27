"""``c3d train DATA -o RUN_DIR``: train C3D-BN from scratch or fine-tune the Sports-1M C3D."""

import json
import logging

from c3d.errors import C3DError

log = logging.getLogger(__name__)

# TrainOptions fields set from the command line (None = not given: the default, or on
# --resume the run's saved value).
_OPTION_FIELDS = (
    "model",
    "weights",
    "freeze_until",
    "epochs",
    "batch_size",
    "lr",
    "schedule",
    "lr_step_epochs",
    "lr_gamma",
    "momentum",
    "weight_decay",
    "clip_shape",
    "mixed_precision",
    "flip",
    "seed",
)


def add_arguments(parser):
    from c3d.commands.options import add_decoders_argument
    from c3d.commands.summary import DEFAULT_SHAPE
    from c3d.model.loader import MODEL_KINDS

    parser.description = (
        "Train on labelled videos: DATA is a folder with one sub-folder of videos per class "
        "(UCF101 layout), or the root that --train-list/--val-list entries are relative to. "
        "Everything goes to RUN_DIR: config.json, per-epoch checkpoints, best.weights.h5 "
        "(best validation accuracy), log.csv, tensorboard/, and the best weights' "
        "evaluation (evaluation.json, confusion_matrix.csv/.png)."
    )
    parser.add_argument("data", nargs="?", metavar="DATA", help="class folders, or the list root")
    parser.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    data = parser.add_argument_group("data")
    data.add_argument("--train-list", metavar="FILE", help="UCF101 trainlist (Class/v.avi LABEL)")
    data.add_argument("--val-list", metavar="FILE", help="UCF101 testlist (Class/v.avi)")
    data.add_argument("--classes", metavar="FILE", help="UCF101 classInd.txt (INDEX NAME)")
    data.add_argument("--val-dir", metavar="DIR", help="validation videos in class folders")
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="without --val-dir/--val-list: share of each class held out (default 0.1; "
        "UCF101 groups _gNN_ are kept on one side)",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=MODEL_KINDS, help="default c3d_bn")
    model.add_argument("--weights", metavar="FILE", help="start from these weights (new fc8)")
    model.add_argument(
        "--freeze-until",
        metavar="LAYER",
        help="train only the layers after LAYER (e.g. pool5: fc6-fc8; fc7: fc8 only)",
    )
    model.add_argument(
        "--input-shape",
        dest="clip_shape",
        metavar="T,H,W",
        help=f"clip frames,height,width (default {DEFAULT_SHAPE})",
    )
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, metavar="N", help="total epochs (default 20)")
    opt.add_argument("--batch-size", type=int, metavar="N", help="clips per batch (default 16)")
    opt.add_argument(
        "--lr", type=float, help="initial learning rate (c3d 0.001, c3d_bn 0.003, res3d18 0.001)"
    )
    opt.add_argument("--schedule", choices=("step", "cosine"), help="default step")
    opt.add_argument(
        "--lr-step-epochs", type=int, metavar="N", help="step schedule: every N epochs (8)"
    )
    opt.add_argument(
        "--lr-gamma", type=float, metavar="G", help="step schedule: rate multiplier (0.1)"
    )
    opt.add_argument("--momentum", type=float, metavar="M", help="SGD momentum (default 0.9)")
    opt.add_argument("--weight-decay", type=float, metavar="WD", help="on kernels (default 5e-4)")
    opt.add_argument(
        "--no-flip",
        dest="flip",
        action="store_false",
        default=None,
        help="no random horizontal flips (for classes told apart by left/right)",
    )
    opt.add_argument(
        "--seed", type=int, metavar="N", help="seed of init, split and sampling (default 0)"
    )
    opt.add_argument(
        "--mixed-precision",
        action="store_true",
        default=None,
        help="float16 compute on a GPU (ignored on the CPU)",
    )
    add_decoders_argument(parser, "--workers")
    parser.add_argument(
        "--json", action="store_true", help="print the final evaluation as one JSON object"
    )


def run(args):
    from c3d.commands.summary import parse_input_shape
    from c3d.training.run import TrainOptions, train

    given = {name for name in _OPTION_FIELDS if getattr(args, name) is not None}
    values = {name: getattr(args, name) for name in given}
    if "clip_shape" in values:
        values["clip_shape"] = parse_input_shape(values["clip_shape"], args.model or "c3d_bn")[:3]
    if args.resume:
        data_options = None
        if args.data or args.train_list or args.val_list or args.val_dir:
            log.info("--resume: the run's own train_list.txt and val_list.txt are used")
    else:
        if args.data is None:
            raise C3DError("DATA is required (except with --resume)")
        data_options = {
            "data": args.data,
            "train_list": args.train_list,
            "val_list": args.val_list,
            "classes": args.classes,
            "val_dir": args.val_dir,
            "val_fraction": args.val_fraction,
        }
    summary = train(
        args.output,
        TrainOptions(**values),
        data_options,
        resume=args.resume,
        given=given,
        workers=args.decoders,
    )
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"best epoch {summary['best_epoch']}: validation clip accuracy "
            f"{summary['clip_accuracy']:.4f} ({summary['clips']} clips), video accuracy "
            f"{summary['video_accuracy']:.4f} ({summary['videos']} videos)\n"
            f"weights: {summary['weights']}"
        )
    return 0
