"""``make example``: classify the example video, plot its classes, extract its features.

    python -m c3d.commands.example [--weights sports1m] \\
        --video examples/v_BaseballPitch_g01_c01.avi [--output runs/example]

The weights come by name from the cache, fetched and converted there on first use (the
Sports-1M model, ~320 MB, with a progress bar; ``$C3D_MIRRORS`` first, ``$C3D_OFFLINE=1``
never). Prints the top-5 classes, where the plot of the classes over time went, a summary
of the fc6 features and where their ``.npz`` went: all with the Python API.
"""

import argparse
import logging
import os
import sys

from c3d.errors import C3DError
from c3d.model.loader import DEFAULT_WEIGHTS

DEFAULT_VIDEO = os.path.join("examples", "v_BaseballPitch_g01_c01.avi")
DEFAULT_OUTPUT = os.path.join("runs", "example")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m c3d.commands.example",
        description="classify a video, plot its classes over time, extract its C3D fc6 features",
    )
    parser.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        help=f"weights name or file (default {DEFAULT_WEIGHTS}, from the weights cache, "
        "fetched there on first use)",
    )
    parser.add_argument("--video", default=DEFAULT_VIDEO, help=f"(default {DEFAULT_VIDEO})")
    parser.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        help=f"folder for the .npz and the .png (default {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)
    from c3d import runtime

    runtime.quiet_tensorflow_startup()  # as the c3d command: its start-up lines hide the rest
    logging.basicConfig(level=logging.INFO, format="c3d example: %(message)s", stream=sys.stderr)

    import c3d
    from c3d.extraction.plot import plot_classes
    from c3d.extraction.writers import key_path, write_npz
    from c3d.model.labels import weights_labels
    from c3d.model.loader import load_model

    try:
        # a name is fetched and converted here on first use
        model = load_model(args.weights, need_classifier=True)
        classes = c3d.classify(args.video, model=model, top=5, labels=weights_labels(args.weights))
        features = c3d.extract_features(args.video, model=model, layer="fc6")
        name = os.path.basename(args.video)
        png_path = plot_classes(
            classes, key_path(args.output, name, ".png"), title=f"{name} ({args.weights})"
        )
        npz_path = key_path(args.output, name, ".npz")
        write_npz(npz_path, features)
    except C3DError as exc:
        print(f"c3d example: error: {exc}", file=sys.stderr)
        return 1

    padded = " (padded)" if features["padded"] else ""
    print(f"{args.video}: {features['n_frames']} frames at {features['fps']:.2f} fps{padded}")
    print("top-5 classes (mean of the clips' softmax):")
    for label, probability in zip(classes["labels"], classes["probabilities"], strict=True):
        print(f"  {probability:.4f}  {label}")
    print(f"classes over time plotted to {png_path}")
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
    print(f"features saved to {npz_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
