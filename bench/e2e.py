"""End-to-end extraction on any Keras backend: ``c3d extract``'s path, timed after a warm-up.

    python -m bench.e2e --weights W [--precision bf16] --out DIR VIDEO [VIDEO ...]

Runs what ``c3d extract VIDEO -o DIR`` runs (decoders, fixed-size batches, the model,
npz writers), in this process, with the model loaded and traced first: the figure is the
pipeline's, not the program's start. Each video is timed ``--repeats`` times (median) and
its features stay in ``DIR/<precision>/<video>.npz`` for comparisons. Prints one JSON
object on stdout. Chooses no backend: set ``KERAS_BACKEND``.
"""

import argparse
import json
import os
import statistics
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("videos", nargs="+", metavar="VIDEO")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--out", required=True, help="folder for the features")
    parser.add_argument("--stride", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=None, help="default: c3d's")
    parser.add_argument("--decoders", type=int, default=None, help="default: c3d's")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per video")
    return parser.parse_args(argv)


def extract_once(model, video, folder, args):
    """Seconds and counts of extracting one video as ``c3d extract`` does."""
    from c3d.commands.reporting import RunReport
    from c3d.extraction.features import extract_videos
    from c3d.extraction.writers import NpzWriter
    from c3d.video.clip_format import ClipFormat
    from c3d.video.inputs import expand_inputs

    videos, problems = expand_inputs([video])
    if problems:
        raise SystemExit(f"bench.e2e: {problems[0]}")
    writer = NpzWriter(folder)
    writer.prepare()
    with open(os.devnull, "w") as quiet:
        report = RunReport(1, stream=quiet)
        start = time.perf_counter()
        extract_videos(
            videos,
            model,
            writer,
            report,
            layer="fc6",
            stride=args.stride,
            batch_size=args.batch_size,
            clip_format=ClipFormat(),
            decoders=args.decoders,
            overwrite=True,  # the same video again: timed, not skipped as done
        )
        seconds = time.perf_counter() - start
        report.close()
    if report.failed:
        raise SystemExit(f"bench.e2e: {report.failures[0]}")
    return seconds, report.clips


def main(argv=None):
    args = parse_args(argv)
    import keras

    from c3d.model.loader import load_model
    from c3d.runtime import accelerator_names, default_batch_size, default_decoders

    model = load_model(args.weights, precision=args.precision)
    folder = os.path.join(args.out, args.precision)
    extract_once(model, args.videos[0], folder, args)  # warm-up: traces the model
    results = {
        "backend": keras.backend.backend(),
        "precision": args.precision,
        "device": (accelerator_names() or ["cpu"])[0],
        "batch_size": args.batch_size or default_batch_size(),
        "decoders": args.decoders or default_decoders(),
        "videos": {},
    }
    for video in args.videos:
        timings = [extract_once(model, video, folder, args) for _ in range(args.repeats)]
        seconds = statistics.median(t for t, _ in timings)
        clips = timings[0][1]
        results["videos"][os.path.basename(video)] = {
            "clips": clips,
            "seconds": seconds,
            "clips_per_s": clips / seconds,
            "features": os.path.join(folder, os.path.basename(video) + ".npz"),
        }
        print(f"bench.e2e: {video}: {clips / seconds:.1f} clips/s", file=sys.stderr, flush=True)
    results["tensorflow_loaded"] = "tensorflow" in sys.modules
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
