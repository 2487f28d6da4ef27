"""Keeping the conversion's peak memory low: C heap trimming, blockwise variable assignment."""

import ctypes
import functools

_ASSIGN_BLOCK_BYTES = 16 << 20


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc; absent elsewhere
    except (OSError, TypeError):  # no C library to open by name (Windows)
        return None


def release_free_heap():
    """Give the C heap's free memory back to the OS (glibc only; elsewhere a no-op).

    The first pass frees hundreds of MB of blobs under 32 MB each, which glibc keeps
    for reuse; TensorFlow would not reuse them, so the peak would carry them along.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def assign_variable(variable, array):
    """``variable.assign(array)``, in row blocks of at most 16 MB on TensorFlow.

    TensorFlow copies a numpy array twice on its way into a tensor: for fc6's kernel
    that is 256 MB on top of everything else, the conversion's peak. Blocks keep the
    copies small. Shapes are checked by the caller.
    """
    import keras

    if keras.backend.backend() != "tensorflow" or array.nbytes <= _ASSIGN_BLOCK_BYTES:
        variable.assign(array)
        return
    import tensorflow as tf

    target = variable.value
    if not isinstance(target, tf.Variable):
        variable.assign(array)
        return
    rows = max(1, _ASSIGN_BLOCK_BYTES * array.shape[0] // array.nbytes)
    rest = list(array.shape[1:])
    for start in range(0, array.shape[0], rows):
        stop = min(start + rows, array.shape[0])
        # The op itself: `target[a:b].assign()` would read the whole variable each time.
        tf.raw_ops.ResourceStridedSliceAssign(
            ref=target.handle,
            begin=[start] + [0] * len(rest),
            end=[stop, *rest],
            strides=[1] * array.ndim,
            value=array[start:stop],
        )
