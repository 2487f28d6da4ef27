"""``c3d classify VIDEO... [--top 5] [--json] [--plot OUT.png]``: classes of videos.

The classes of the weights: Sports-1M's (``sports1m``, the default), UCF101's (``ucf101``),
"class N" for a file of another head. Results go to stdout (in the order the videos were
given), progress and failures to stderr; the exit status is 1 if any video failed.
``--plot`` draws each video's top classes per clip over time (``c3d.extraction.plot``).
"""

import json
import sys


def add_arguments(parser):
    from c3d.commands.options import (
        MAX_TOP,
        add_decoding_arguments,
        add_model_arguments,
        range_text,
    )

    parser.add_argument(
        "inputs", nargs="+", metavar="VIDEO", help="video files, folders or @list.txt"
    )
    parser.add_argument(
        "--top",
        type=int,
        default=5,
        help=f"how many classes to print (5; {range_text(1, MAX_TOP)})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON, with each clip's top classes too"
    )
    add_model_arguments(parser)
    add_decoding_arguments(parser)
    parser.add_argument("--failures", metavar="FILE", default=None, help="write failures here")
    parser.add_argument(
        "--plot",
        metavar="OUT.png",
        default=None,
        help="draw the top classes' probability per clip over time (seconds) to OUT.png; "
        "with several videos, OUT-<video>.png for each",
    )


def _top_entries(probabilities, names, k):
    from c3d.extraction.classification import top_k

    return [
        {"label": names[i], "probability": round(float(probabilities[i]), 6)}
        for i in top_k(probabilities, k)
    ]


def as_json(path, result, k):
    """One video's classification as a JSON-ready dict."""
    names = result["class_names"]
    return {
        "path": path,
        "n_frames": result["n_frames"],
        "fps": result["fps"],
        "padded": result["padded"],
        "top": _top_entries(result["video_probabilities"], names, k),
        "clips": [
            {"start": int(start), "top": _top_entries(probabilities, names, k)}
            for start, probabilities in zip(
                result["starts"], result["clip_probabilities"], strict=True
            )
        ],
    }


def as_text(path, result):
    clips = len(result["starts"])
    padded = ", padded" if result["padded"] else ""
    lines = [f"{path}  ({clips} clips, {result['n_frames']} frames{padded})"]
    for label, probability in zip(result["labels"], result["probabilities"], strict=True):
        lines.append(f"  {probability:.4f}  {label}")
    return "\n".join(lines)


def plot_path(plot, video_key, several):
    """Where a video's plot goes: ``plot`` itself, or ``plot``'s stem plus the video's name."""
    if not several:
        return plot
    import os

    stem, suffix = os.path.splitext(plot)
    return f"{stem}-{video_key.replace('/', '_')}{suffix or '.png'}"


def run(args):
    import contextlib
    import os

    from c3d.commands.options import (
        MAX_STRIDE,
        MAX_TOP,
        check_batch_size,
        check_decoding,
        check_range,
    )
    from c3d.errors import C3DError
    from c3d.model.labels import weights_labels
    from c3d.model.loader import load_model
    from c3d.video.clip_format import ClipFormat
    from c3d.video.inputs import expand_inputs

    check_range("--top", args.top, 1, MAX_TOP)
    check_range("--stride", args.stride, 1, MAX_STRIDE)
    check_batch_size(args.batch_size)
    check_decoding(args)
    if args.plot is not None and os.path.isdir(args.plot):
        raise C3DError(f"{args.plot}: --plot takes a file name (OUT.png), not a folder")
    clip_format = ClipFormat(mean=args.mean)
    videos, problems = expand_inputs(args.inputs, unique_keys=False)
    model = (
        load_model(args.weights, precision=args.precision, need_classifier=True) if videos else None
    )
    labels = weights_labels(args.weights)

    from c3d.commands.reporting import RunReport
    from c3d.extraction.classification import classification
    from c3d.model.inference import predict_fn
    from c3d.video.stream import path_of, run_videos

    report = RunReport(len(videos) + len(problems), failures_file=args.failures)
    finished, next_index, documents = {}, 0, []

    try:
        for problem in problems:
            report.failure(problem)
        if videos:
            results = run_videos(
                videos,
                predict_fn(model),
                stride=args.stride,
                clip_format=clip_format,
                batch_size=args.batch_size,
                decoders=args.decoders,
                gpu_decode=args.gpu_decode,
                on_batch=report.clips_done,
            )
            with contextlib.closing(results):
                for result in results:
                    if result.ok:
                        path = path_of(result.video)
                        classified = classification(result, labels, args.top)
                        if args.plot is not None:
                            from c3d.extraction.plot import plot_classes

                            key = getattr(result.video, "key", None) or os.path.basename(path)
                            plot_classes(
                                classified,
                                plot_path(args.plot, key, len(videos) > 1),
                                args.top,
                                title=os.path.basename(path),
                            )
                        if args.json:
                            finished[result.index] = as_json(path, classified, args.top)
                        else:
                            finished[result.index] = as_text(path, classified)
                        report.video_done()
                    else:
                        finished[result.index] = None
                        report.failure(result.reason)
                    # print in input order, as soon as the videos before are finished
                    while next_index in finished:
                        output = finished.pop(next_index)
                        if args.json and output is not None:
                            documents.append(output)
                        elif output is not None:
                            report.bar.write(output, file=sys.stdout)
                        next_index += 1
    finally:
        report.close()
    if args.json:
        json.dump(documents, sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(f"c3d classify: {report.summary()}", file=sys.stderr)
    return 1 if report.failed else 0
