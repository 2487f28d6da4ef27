"""Model-only throughput of the Sports-1M C3D on any Keras backend, fp32 or bf16.

    python -m bench.model_only [--backend jax] [--precision bf16] [--batch-sizes 8,32,128]

For GPUs (issue 6 asks for JAX fp32 and bf16 figures there) and for comparing backends
on a CPU. The batch is placed on the device once and the forward pass is compiled
(``jax.jit`` of ``stateless_call`` on JAX, a ``tf.function`` on TensorFlow, plain eager
calls under ``torch.no_grad`` on torch), so the figure is the model's alone: no
host-to-device copies, no decoding. ``bf16`` is Keras' ``mixed_bfloat16`` policy
(bfloat16 compute, float32 weights). Prints one JSON object on stdout, logs on stderr.
Weights are random: speed does not depend on their values.
"""

import argparse
import json
import os
import statistics
import sys
import time

from c3d.model.loader import PRECISIONS  # importing c3d loads no Keras: --backend still applies

BACKENDS = ("tensorflow", "jax", "torch")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.model_only", description=__doc__)
    parser.add_argument(
        "--backend", choices=BACKENDS, help="Keras backend (default: $KERAS_BACKEND or tensorflow)"
    )
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="fp32")
    parser.add_argument("--batch-sizes", default="1,8,16", help="comma-separated (default 1,8,16)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per batch size")
    parser.add_argument(
        "--input-shape", default="16,112,112", help="T,H,W of a clip (default 16,112,112)"
    )
    args = parser.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
        args.input_shape = (*(int(d) for d in args.input_shape.split(",")), 3)
    except ValueError:
        parser.error("--batch-sizes and --input-shape take comma-separated integers")
    if min(args.batch_sizes) < 1 or args.repeats < 1 or len(args.input_shape) != 4:
        parser.error("batch sizes and --repeats must be >= 1, --input-shape T,H,W")
    return args


def compiled_forward(model, backend):
    """(to_device(np batch) -> device batch, forward(device batch) -> synced device output)."""
    import numpy as np

    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        @jax.jit
        def forward(batch):
            outputs, _ = model.stateless_call(trainable, non_trainable, batch, training=False)
            return outputs

        return jax.device_put, lambda batch: forward(batch).block_until_ready()

    if backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"

        def forward(batch):
            with torch.no_grad():
                outputs = model(batch, training=False)
            if device == "cuda":
                torch.cuda.synchronize()
            return outputs

        return lambda batch: torch.from_numpy(np.asarray(batch)).to(device), forward

    import tensorflow as tf

    @tf.function(jit_compile=False, reduce_retracing=True)
    def tf_forward(batch):
        return model(batch, training=False)

    def forward(batch):
        outputs = tf_forward(batch)
        outputs.numpy()  # waits for the device
        return outputs

    return tf.convert_to_tensor, forward


def device_name():
    from c3d.runtime import accelerator_names

    names = accelerator_names()
    return names[0] if names else "cpu"


def measure(args):
    import keras
    import numpy as np

    from c3d.model.builder import C3D_model

    backend = keras.backend.backend()
    keras.config.set_dtype_policy(PRECISIONS[args.precision])
    model = C3D_model(input_shape=args.input_shape)
    to_device, forward = compiled_forward(model, backend)
    rng = np.random.default_rng(0)
    results = {
        "backend": backend,
        "keras": keras.__version__,
        "device": device_name(),
        "precision": args.precision,
        "compute_dtype": model.get_layer("conv1").compute_dtype,
        "input_shape": list(args.input_shape),
        "clips_per_s": {},
    }
    for batch_size in args.batch_sizes:
        shape = (batch_size, *args.input_shape)
        batch = to_device(rng.uniform(-128, 128, shape).astype(np.float32))
        forward(batch)  # compiles for this shape
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            forward(batch)
            seconds.append(time.perf_counter() - start)
        speed = batch_size / statistics.median(seconds)
        results["clips_per_s"][str(batch_size)] = speed
        print(f"bench: batch {batch_size}: {speed:.2f} clips/s", file=sys.stderr, flush=True)
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.backend:
        if "keras" in sys.modules:
            sys.exit("bench.model_only: --backend must be chosen before Keras is imported")
        os.environ["KERAS_BACKEND"] = args.backend
    results = measure(args)
    results["tensorflow_loaded"] = "tensorflow" in sys.modules
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
