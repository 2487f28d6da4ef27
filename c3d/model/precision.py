"""Precision names (``fp32``, ``bf16``) → Keras dtype policies, and where bf16 is worth it.

Its own module so that the commands' options list the choices without loading Keras.
"""

import contextlib

from c3d.errors import C3DError

# precision -> Keras dtype policy. bf16 computes in bfloat16 with float32 weights: about
# 2x the fp32 speed where the hardware has bf16 units; fc6 features came out within
# 0.5% of fp32's (relative L2 error per clip, measured on the example video).
PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16"}


def check_precision(precision):
    """Refuse an unknown precision, and bf16 where it would be emulated (~35x slower)."""
    from c3d.runtime import has_fast_bf16

    if precision not in PRECISIONS:
        raise C3DError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    if precision == "bf16" and not has_fast_bf16():
        raise C3DError(
            "precision bf16 needs a GPU or a CPU with AVX-512 BF16 or AMX; this machine has "
            "neither and would emulate it, ~35x slower than fp32"
        )
    return precision


@contextlib.contextmanager
def dtype_policy(name):
    """Keras' global dtype policy set to ``name`` while layers are built, then restored."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
