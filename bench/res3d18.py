"""Res3D-18 (C3D v1.1) beside C3D, in the same run: model-only clips/s (fp32, and bf16
where the hardware has bf16 units) and end-to-end extraction of the example video.

    python -m bench.res3d18 [--quick] [--batch-sizes 1,8]

``make bench`` (``bench/__main__.py``) calls ``measure`` after C3D's own figures; run on
its own, this module measures C3D too, so the two are always taken on the same machine
under the same load. A Res3D-18 clip is 8 frames of 112x112 against C3D's 16: its
model-only clips/s is per clip of the same 16 video frames. Weights are random: speed does
not depend on their values. Prints one JSON object on stdout.
"""

import argparse
import json
import os
import statistics
import sys
import time

import c3d  # noqa: F401  (runtime defaults before TensorFlow loads)

EXAMPLE_VIDEO = os.path.join("examples", "v_BaseballPitch_g01_c01.avi")
E2E_BATCH = 8


def end_to_end(model, video, runs):
    """Median clips/s of extracting ``video`` with ``model`` (traced by a first run)."""
    from c3d.extraction.features import extract_features

    extract_features(video, model=model, batch_size=E2E_BATCH)  # warm-up: traces the extractor
    speeds = []
    for _ in range(runs):
        start = time.perf_counter()
        arrays = extract_features(video, model=model, batch_size=E2E_BATCH)
        speeds.append(len(arrays["starts"]) / (time.perf_counter() - start))
    return statistics.median(speeds)


def model_figures(name, build, batch_sizes, repeats):
    """{name_model_clips_per_s_batchN: …} in fp32, and at batch 8 in bf16 where it is fast."""
    from bench.model_speed import inference_throughput
    from c3d.model.loader import dtype_policy
    from c3d.runtime import has_fast_bf16

    model = build()
    results = {
        f"{name}_model_clips_per_s_batch{batch}": speed
        for batch, speed in inference_throughput(model, batch_sizes, repeats=repeats).items()
    }
    if has_fast_bf16():
        with dtype_policy("mixed_bfloat16"):
            bf16_model = build()
        bf16 = inference_throughput(bf16_model, (E2E_BATCH,), repeats=repeats)[E2E_BATCH]
        results[f"{name}_model_clips_per_s_batch{E2E_BATCH}_bf16"] = bf16
    return model, results


def measure(quick=False, batch_sizes=(1, 8, 16), video=EXAMPLE_VIDEO, with_c3d=False):
    """Res3D-18's figures (and C3D's with ``with_c3d``), and their ratios at batch 8."""
    from c3d.model.builder import C3D_model
    from c3d.model.res3d18 import Res3D18

    repeats, runs = (2, 1) if quick else (5, 3)
    batch_sizes = tuple(sorted({*batch_sizes, E2E_BATCH}))
    results = {}
    models = {"res3d18": Res3D18}
    if with_c3d:
        models = {"c3d": C3D_model, **models}
    for name, build in models.items():
        model, figures = model_figures(name, build, batch_sizes, repeats)
        results.update(figures)
        speed = end_to_end(model, video, runs)
        results[f"{name}_e2e_clips_per_s_example"] = speed
        results[f"{name}_e2e_ratio_example"] = (
            speed / results[f"{name}_model_clips_per_s_batch{E2E_BATCH}"]
        )
        del model
    if with_c3d:
        key = f"model_clips_per_s_batch{E2E_BATCH}"
        results[f"res3d18_over_c3d_{key}"] = results[f"res3d18_{key}"] / results[f"c3d_{key}"]
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.res3d18", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, one timed run")
    parser.add_argument("--batch-sizes", default="1,8", help="comma-separated (default 1,8)")
    args = parser.parse_args(argv)
    batch_sizes = tuple(int(b) for b in args.batch_sizes.split(","))
    started = time.perf_counter()
    results = measure(args.quick, batch_sizes, with_c3d=True)
    results["seconds"] = time.perf_counter() - started
    json.dump(results, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
