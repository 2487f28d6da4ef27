"""Training steps as ``c3d train [--mixed-precision]`` takes them, on any Keras backend.

    python -m bench.train_speed [--mixed-precision] [--batch-size 16] [--steps 10]

The model, optimiser (SGD, momentum, weight decay, learning-rate schedule), loss and
precision policy are ``c3d.training.run``'s own; the clips are random and already in
memory, so the figure is the training step's, not the input pipeline's (``c3d train``
decodes with tf.data, which needs TensorFlow). Prints one JSON object on stdout.
"""

import argparse
import json
import statistics
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.train_speed", description=__doc__)
    parser.add_argument("--model", default="c3d_bn", choices=("c3d_bn", "c3d"))
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--batch-size", type=int, default=16, help="c3d train's default, 16")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up)")
    parser.add_argument("--input-shape", default="16,112,112", help="T,H,W")
    parser.add_argument("--classes", type=int, default=101)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    shape = tuple(int(d) for d in args.input_shape.split(","))
    import keras
    import numpy as np

    from c3d.runtime import accelerator_names
    from c3d.training.run import (
        TrainOptions,
        build_model,
        compile_model,
        use_mixed_precision,
    )

    options = TrainOptions(
        model=args.model,
        batch_size=args.batch_size,
        clip_shape=shape,
        mixed_precision=args.mixed_precision,
    ).resolved()
    mixed = use_mixed_precision() if options.mixed_precision else False
    model = build_model(options.model, args.classes, options.clip_shape)
    compile_model(model, options, steps_per_epoch=100)
    rng = np.random.default_rng(0)
    clips = rng.uniform(-128, 128, (args.batch_size, *shape, 3)).astype(np.float32)
    labels = rng.integers(0, args.classes, args.batch_size).astype(np.int32)
    for _ in range(2):  # compiles the step
        model.train_on_batch(clips, labels)
    seconds = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model.train_on_batch(clips, labels)
        seconds.append(time.perf_counter() - start)
    step = statistics.median(seconds)
    result = {
        "backend": keras.backend.backend(),
        "device": (accelerator_names() or ["cpu"])[0],
        "model": options.model,
        "policy": keras.config.dtype_policy().name,
        "mixed_precision": bool(mixed),
        "batch_size": args.batch_size,
        "steps": args.steps,
        "step_seconds": step,
        "clips_per_s": args.batch_size / step,
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
