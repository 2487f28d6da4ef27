"""``c3d evaluate DATA --weights W``: clip and video accuracy, and the confusion matrix."""

import json
import logging
import os

from c3d.errors import C3DError

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.description = (
        "Score trained weights on labelled videos: clip accuracy (every stride-8 clip, centre "
        "crop) and video accuracy (softmax averaged over a video's clips), plus the video "
        "confusion matrix as CSV and PNG. Model kind, input shape and class names come from "
        "the run's config.json next to the weights when there is one."
    )
    parser.add_argument("data", metavar="DATA", help="class folders, or the root of --list")
    parser.add_argument("--weights", required=True, metavar="FILE", help="e.g. RUN/best.weights.h5")
    parser.add_argument("--list", metavar="FILE", help="UCF101 split list of the videos to score")
    parser.add_argument("--classes", metavar="FILE", help="classInd.txt of --list / the weights")
    from c3d.commands.options import add_decoders_argument
    from c3d.commands.summary import DEFAULT_SHAPE
    from c3d.model.loader import MODEL_KINDS

    parser.add_argument(
        "--model", choices=MODEL_KINDS, help="default: run config, or the weights file's"
    )
    parser.add_argument(
        "--input-shape", metavar="T,H,W", help=f"default: run config, or {DEFAULT_SHAPE}"
    )
    parser.add_argument(
        "--batch-size", type=int, default=16, metavar="N", help="clips per batch (default 16)"
    )
    add_decoders_argument(parser, "--workers")
    parser.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        help="folder for evaluation.json and the confusion matrix (default: a new "
        "evaluation-YYYYmmdd-HHMMSS folder beside the weights; never a run's own files)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (clip_accuracy, video_accuracy, …)",
    )


def _videos(args, model_classes):
    from c3d.training.datasets import class_folders, read_class_index, read_split_list

    if args.list:
        list_classes = read_class_index(args.classes) if args.classes else model_classes
        if list_classes is None:
            raise C3DError("--list needs --classes (no run config.json next to the weights)")
        videos = read_split_list(args.list, args.data, list_classes)
        source = args.list
    else:
        videos = class_folders(args.data)
        source = args.data
    return videos.relabel(model_classes, source) if model_classes else videos


def output_folder(requested, weights):
    """Where this evaluation writes: ``-o``, or a new folder beside the weights.

    Never a training run's folder: its confusion matrix and evaluation.json describe the
    run's validation set, and scoring other data must not replace them.
    """
    import datetime

    from c3d.training.run import CONFIG_FILE

    if requested is not None:
        if os.path.isfile(os.path.join(requested, CONFIG_FILE)):
            raise C3DError(
                f"{requested}: a training run's folder; its evaluation files describe the "
                "run (choose another -o)"
            )
        return requested
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(os.path.dirname(os.path.abspath(weights)), f"evaluation-{stamp}")
    folder, number = base, 1
    while os.path.exists(folder):
        number += 1
        folder = f"{base}-{number}"
    return folder


def run(args):
    from c3d.commands.summary import parse_input_shape
    from c3d.model.loader import resolve_weights
    from c3d.training.datasets import read_class_index
    from c3d.training.run import read_run_config, write_json

    weights = resolve_weights(args.weights)
    config = read_run_config(os.path.dirname(os.path.abspath(weights))) or {}
    out_dir = output_folder(args.output_dir, weights)
    from c3d.model.architectures import architecture
    from c3d.model.weights import file_architecture

    kind = args.model or config.get("model") or file_architecture(weights)
    if args.input_shape:
        shape = parse_input_shape(args.input_shape, kind)[:3]
    else:
        shape = tuple(config.get("input_shape", architecture(kind).plan.CLIP_SHAPE))
    model_classes = config.get("class_names")
    if model_classes is None and args.classes and not args.list:
        model_classes = read_class_index(args.classes)
    videos = _videos(args, model_classes)
    class_names = videos.class_names

    from c3d.model.inference import predict_fn
    from c3d.model.loader import load_model
    from c3d.training.evaluation import evaluate_videos, save_confusion_matrix
    from c3d.video.clip_format import ClipFormat

    model = load_model(
        weights,
        kind=kind,
        num_classes=len(class_names),
        input_shape=(*shape, 3),
        hint=" (is --model/--input-shape right?)",
    )
    log.info("%s: %s %s on %d videos", weights, kind, "x".join(map(str, shape)), len(videos))
    result = evaluate_videos(
        predict_fn(model),
        videos,
        ClipFormat.for_model(kind, input_shape=shape),
        batch_size=args.batch_size,
        workers=args.decoders,
    )
    os.makedirs(out_dir, exist_ok=True)
    csv_path, png_path = save_confusion_matrix(result, out_dir)
    if result.skipped:
        log.warning("%d videos could not be decoded and were skipped", len(result.skipped))
    summary = {
        **result.summary(),
        "weights": os.path.abspath(weights),
        "confusion_matrix_csv": csv_path,
        "confusion_matrix_png": png_path,
    }
    write_json(os.path.join(out_dir, "evaluation.json"), summary)
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"clip accuracy  {result.clip_accuracy:.4f} ({result.clips} clips)\n"
            f"video accuracy {result.video_accuracy:.4f} ({len(result.video_labels)} videos"
            f", {len(result.skipped)} skipped)\n"
            f"confusion matrix: {csv_path}, {png_path}"
        )
    return 0
