"""``make example``: classify the example video and extract its features, with the Python API.

    python -m c3d.commands.example [--weights sports1m] \\
        --video examples/v_BaseballPitch_g01_c01.avi

Prints the top-5 Sports-1M classes, a summary of the fc6 features and where their
``.npz`` went. Without the weights it says how to get them and exits with 2.
"""

import argparse
import os
import sys

from c3d.errors import C3DError
from c3d.model.loader import DEFAULT_WEIGHTS, resolve_weights

DEFAULT_VIDEO = os.path.join("examples", "v_BaseballPitch_g01_c01.avi")
DEFAULT_OUTPUT = os.path.join("runs", "example")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m c3d.commands.example",
        description="classify a video and extract its C3D fc6 features",
    )
    parser.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        help=f"weights name or file (default {DEFAULT_WEIGHTS}, from the weights cache)",
    )
    parser.add_argument("--video", default=DEFAULT_VIDEO, help=f"(default {DEFAULT_VIDEO})")
    parser.add_argument(
        "--output", default=DEFAULT_OUTPUT, help=f"folder for the .npz (default {DEFAULT_OUTPUT})"
    )
    args = parser.parse_args(argv)

    # Checked before TensorFlow loads, so the hint comes at once.
    try:
        weights = resolve_weights(args.weights)
    except C3DError as exc:
        print(
            f"c3d example: {exc}\n"
            "Get the Sports-1M weights, converted from the authors' Caffe model, with\n"
            "    c3d fetch-weights\n"
            "(`make convert-weights` in a clone of the repository; add --caffemodel PATH, or\n"
            "CAFFEMODEL=PATH for make, if you have the Caffe model already).",
            file=sys.stderr,
        )
        return 2

    import c3d
    from c3d.extraction.writers import key_path, write_npz
    from c3d.model.loader import load_model

    try:
        model = load_model(weights, need_classifier=True)
        classes = c3d.classify(args.video, model=model, top=5)
        features = c3d.extract_features(args.video, model=model, layer="fc6")
    except C3DError as exc:
        print(f"c3d example: error: {exc}", file=sys.stderr)
        return 1

    padded = " (padded)" if features["padded"] else ""
    print(f"{args.video}: {features['n_frames']} frames at {features['fps']:.2f} fps{padded}")
    print("top-5 Sports-1M classes (mean of the clips' softmax):")
    for label, probability in zip(classes["labels"], classes["probabilities"], strict=True):
        print(f"  {probability:.4f}  {label}")

    clips, video = features["clips"], features["video"]
    starts = features["starts"]
    print(
        f"fc6 features: {clips.shape[0]} clips x {clips.shape[1]} values "
        f"(clip starts {starts[0]}..{starts[-1]}, stride 8)"
    )
    print(
        f"  clip features: mean {clips.mean():.4f}, max {clips.max():.4f}, "
        f"{(clips > 0).mean():.0%} non-zero"
    )
    print(f"  video feature (L2-normalised mean): norm {float((video**2).sum() ** 0.5):.6f}")
    npz_path = key_path(args.output, os.path.basename(args.video), ".npz")
    write_npz(npz_path, features)
    print(f"features saved to {npz_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
