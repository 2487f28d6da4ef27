"""Every GPU figure of issue 15 in one command, on a machine without TensorFlow.

    python -m bench.gpu [--sections model,e2e,decode,train] [--out bench/results]

Needs Keras with JAX and/or PyTorch (CUDA builds), OpenCV and h5py; not TensorFlow.
Each backend runs in a child process (``KERAS_BACKEND`` is read once, at import):

1. ``model``: ``bench.model_only`` on each backend, fp32 and bf16, batch 32, 64 and 128
   (target: at least 6,000 clips/s in bf16 on an H100 or H200);
2. ``e2e``: ``bench.e2e`` (``c3d extract``'s path, after a warm-up) on the example video
   and on a generated 10-minute 720p video, per backend and precision, as clips/s and
   as a share of model-only at the same batch size (target: at least 0.9); and bf16's
   fc6 against fp32's, the largest relative error over all clips (target: under 0.5%);
3. ``decode``: decoding alone on that long video: OpenCV on one thread (the per-core
   figure) and the streaming path with 1, CPUs/2 and all CPUs decoders; whether this
   OpenCV decodes on the GPU (``cv2.cudacodec``);
4. ``train``: ``bench.train_speed --mixed-precision`` (``c3d train``'s model, optimiser
   and policy; in-memory clips) on each backend.

Figures go to a table and to ``OUT/gpu-<date>-<time>.json`` in ``make bench``'s format
(flat figures, plus ``machine`` with the GPU's name). Each call of a lent GPU machine
may run 10 minutes, so sections can run as separate commands, each ``--merge``-ing the
JSON of the one before (e2e's ratios need model's figures); the generated video and the
random weights (used unless ``--weights`` or models/c3d_sports1m.weights.h5 exists)
are kept in ``--cache`` for the next one.
"""

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time

import bench  # noqa: F401  (puts tests/ on the path: the synthetic video writer)
from bench import decode_speed
from bench.machine import cpu_model
from bench.report import missed, print_table, write_json

SECTIONS = ("model", "e2e", "decode", "train")
EXAMPLE_VIDEO = os.path.join("examples", "v_BaseballPitch_g01_c01.avi")
SPORTS1M_WEIGHTS = os.path.join("models", "c3d_sports1m.weights.h5")
MODEL_TARGET = 6000.0  # clips/s in bf16 on an H100/H200: ~45% of its dense bf16 peak
E2E_TARGET = 0.9  # of model-only throughput at the same batch size
BF16_TARGET = 0.005  # largest relative L2 error of a clip's fc6, bf16 against fp32


def log(message):
    print(f"bench.gpu: {message}", file=sys.stderr, flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__)
    add = parser.add_argument
    add("--sections", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    add("--backends", default="jax,torch")
    add("--precisions", default="fp32,bf16")
    add("--batch-sizes", default="32,64,128", help="model-only batch sizes")
    add("--repeats", type=int, default=5, help="timed calls per model-only batch size")
    add("--input-shape", default="16,112,112", help="model-only and training clips, T,H,W")
    add("--example", default=EXAMPLE_VIDEO, help="the short video of the e2e figures")
    add("--long-seconds", type=float, default=600.0, help="the generated video's length")
    add("--long-size", default="1280x720", help="the generated video's WIDTHxHEIGHT")
    add("--stride", type=int, default=8, help="e2e clip stride")
    add("--e2e-batch", type=int, default=None, help="e2e batch size (default: c3d's, 32 on GPU)")
    add("--weights", default=None, help="default: the Sports-1M weights if present, else random")
    add("--train-batch", type=int, default=16)
    add("--train-steps", type=int, default=10)
    add("--cache", default=os.path.join("bench", "results", "cache"))
    add("--out", default=os.path.join("bench", "results"))
    add("--merge", metavar="JSON", help="an earlier run's results: kept, and added to")
    args = parser.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    if set(args.sections) - set(SECTIONS):
        parser.error(f"--sections: choose from {', '.join(SECTIONS)}")
    args.backends = [b for b in args.backends.split(",") if b]
    args.precisions = [p for p in args.precisions.split(",") if p]
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
        width, height = (int(v) for v in args.long_size.lower().split("x"))
    except ValueError:
        parser.error("--batch-sizes takes integers, --long-size WIDTHxHEIGHT")
    args.long_size = (width, height)
    return args


def child(module, args, backend):
    """Run ``python -m module ARGS`` with ``KERAS_BACKEND=backend``; its JSON report."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    command = [sys.executable, "-m", module, *map(str, args)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {done.returncode}), see above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def library_versions():
    from importlib import metadata

    versions = {}
    for name in ("keras", "jax", "jaxlib", "torch", "opencv-python-headless", "tensorflow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def machine_facts():
    from c3d.runtime import available_cpus
    from c3d.video.decode import gpu_decoding_available

    return {
        "cpu": cpu_model(),
        "cpus_available": available_cpus(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        "gpu_decoding_cv2_cudacodec": gpu_decoding_available(),
        "gpus": [],
    }


def cached(path, make):
    """``path``, made by ``make(tmp_path)`` once (complete or absent)."""
    if not os.path.exists(path):
        from c3d.atomic import atomic_output

        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with atomic_output(path) as tmp:
            make(tmp)
    return path


def weights_file(args):
    if args.weights:
        return args.weights, "given"
    if os.path.isfile(SPORTS1M_WEIGHTS):
        return SPORTS1M_WEIGHTS, "sports1m"
    path = os.path.join(args.cache, "random-1234.weights.h5")
    log("random full-size weights")
    return cached(path, lambda tmp: child_weights(tmp, args.backends[0])), "random"


def child_weights(path, backend):
    env = dict(os.environ, KERAS_BACKEND=backend)
    subprocess.run([sys.executable, "-m", "bench.weights", path], env=env, check=True)


def long_video(args):
    from synthetic_videos import write_video

    width, height = args.long_size
    frames = max(1, round(args.long_seconds * 30))
    path = os.path.join(args.cache, f"long-{frames}f-{width}x{height}.mp4")
    if not os.path.exists(path):
        log(f"writing a {args.long_seconds:g} s {width}x{height} video (once, kept in the cache)")
    return cached(path, lambda tmp: write_video(tmp, frames, size=(width, height), fps=30.0))


def model_section(args, results):
    shape = args.input_shape
    sizes = ",".join(map(str, args.batch_sizes))
    for backend in args.backends:
        for precision in args.precisions:
            log(f"model-only: {backend} {precision}")
            options = ["--backend", backend, "--precision", precision, "--batch-sizes", sizes]
            report = child(
                "bench.model_only",
                [*options, "--repeats", args.repeats, "--input-shape", shape],
                backend,
            )
            note_device(results, report)
            results["machine"][f"compute_dtype_{backend}_{precision}"] = report["compute_dtype"]
            for batch, speed in report["clips_per_s"].items():
                results[f"model_clips_per_s_{backend}_{precision}_batch{batch}"] = speed


def note_device(results, report):
    """The device a child computed on, and whether it loaded TensorFlow (it must not)."""
    machine = results["machine"]
    if report["device"] not in machine["gpus"]:
        machine["gpus"].append(report["device"])
    loaded = machine.get("tensorflow_loaded", False) or report["tensorflow_loaded"]
    machine["tensorflow_loaded"] = loaded


def e2e_section(args, results, workdir):
    weights, kind = weights_file(args)
    results["machine"]["weights"] = kind
    videos = {"example": args.example, "long": long_video(args)}
    features = {}
    for backend in args.backends:
        for precision in args.precisions:
            log(f"end to end: {backend} {precision}")
            out = os.path.join(workdir, f"e2e-{backend}")
            report = child(
                "bench.e2e",
                [
                    *videos.values(),
                    *("--weights", weights, "--precision", precision, "--out", out),
                    *("--stride", args.stride, "--repeats", 1),
                    *(("--batch-size", args.e2e_batch) if args.e2e_batch else ()),
                ],
                backend,
            )
            note_device(results, report)
            batch = report["batch_size"]
            results[f"e2e_batch_size_{backend}"] = batch
            results[f"e2e_decoders_{backend}"] = report["decoders"]
            for name, video in videos.items():
                measured = report["videos"][os.path.basename(video)]
                key = f"{backend}_{precision}_{name}"
                results[f"e2e_clips_per_s_{key}"] = measured["clips_per_s"]
                model = results.get(f"model_clips_per_s_{backend}_{precision}_batch{batch}")
                if model:
                    results[f"e2e_ratio_{key}"] = measured["clips_per_s"] / model
                features[backend, precision, name] = measured["features"]
    for backend in args.backends:
        for name in videos:
            fp32 = features.get((backend, "fp32", name))
            bf16 = features.get((backend, "bf16", name))
            if fp32 and bf16:
                error = largest_relative_error(bf16, fp32)
                results[f"bf16_fc6_max_relative_error_{backend}_{name}"] = error


def largest_relative_error(got_path, want_path):
    """The largest per-clip relative L2 error of ``got``'s features against ``want``'s."""
    import numpy as np

    from c3d.extraction.writers import read_npz

    got, want = read_npz(got_path)["clips"], read_npz(want_path)["clips"]
    errors = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    return float(errors.max())


def decode_section(args, results):
    from c3d.runtime import available_cpus

    video = long_video(args)
    cpus = available_cpus()
    log(f"decoding alone ({cpus} CPUs)")
    results["decode_raw_frames_per_s_1thread"] = decode_speed.raw_decode_fps(video)
    results["decode_raw_frames_per_s_ffmpeg_threads"] = decode_speed.raw_decode_fps(video, cpus)
    for decoders in sorted({1, max(1, cpus // 2), cpus}):
        speed = decode_speed.decoding_throughput([video], decoders, stride=args.stride)
        results[f"decode_frames_per_s_decoders{decoders}"] = speed["frames_per_s"]
        results[f"decode_clips_per_s_decoders{decoders}"] = speed["clips_per_s"]


def train_section(args, results):
    for backend in args.backends:
        log(f"training steps: {backend}")
        report = child(
            "bench.train_speed",
            [
                "--mixed-precision",
                *("--batch-size", args.train_batch, "--steps", args.train_steps),
                *("--input-shape", args.input_shape),
            ],
            backend,
        )
        note_device(results, report)
        results[f"train_clips_per_s_{backend}_batch{args.train_batch}"] = report["clips_per_s"]
        results[f"train_step_seconds_{backend}"] = report["step_seconds"]
        results["machine"][f"train_policy_{backend}"] = report["policy"]


def targets(results):
    """The issue's targets, for the figures this run measured."""
    found = {}
    for key in results:
        if key.startswith("model_clips_per_s_") and "_bf16_" in key:
            found[key] = ("≥", MODEL_TARGET)
        elif key.startswith("e2e_ratio_"):
            found[key] = ("≥", E2E_TARGET)
        elif key.startswith("bf16_fc6_max_relative_error_"):
            found[key] = ("<", BF16_TARGET)
    return found


def main(argv=None):
    args = parse_args(argv)
    import tempfile

    started = time.perf_counter()
    results = {"machine": machine_facts()}
    if args.merge:
        with open(args.merge) as f:
            earlier = json.load(f)
        # machine facts of the earlier sections (weights, compute dtypes, GPUs) are kept
        machine = {**earlier.get("machine", {}), **results["machine"]}
        machine["gpus"] = earlier.get("machine", {}).get("gpus", [])
        results = {**earlier, "machine": machine}
        results.pop("bench_seconds", None)
    with tempfile.TemporaryDirectory(prefix="c3d-bench-gpu-") as workdir:
        if "model" in args.sections:
            model_section(args, results)
        if "e2e" in args.sections:
            e2e_section(args, results, workdir)
        if "decode" in args.sections:
            decode_section(args, results)
        if "train" in args.sections:
            train_section(args, results)
    results["bench_seconds"] = time.perf_counter() - started
    found = targets(results)
    print_table(results, found)
    path = write_json(results, args.out, prefix="gpu")
    log(f"results written to {path}")
    return 1 if missed(found, results) else 0


if __name__ == "__main__":
    sys.exit(main())
