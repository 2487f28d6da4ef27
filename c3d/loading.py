"""Loading the C3D model behind ``extract``/``classify`` and making its fast call path.

Heavy imports (Keras) happen on first use, so command modules can import this lazily.
"""

import contextlib
import functools
import os
import weakref

from c3d.errors import C3DError

DEFAULT_WEIGHTS = os.path.join("models", "c3d_sports1m.weights.h5")
WEIGHTS_HINT = "get the converted Sports-1M weights with `make convert-weights`"

# --layer name -> model layer whose output it is; pool5 is taken flattened (8192 values),
# as the original C3D feature extractor wrote it.
FEATURE_LAYERS = {"fc6": "fc6", "fc7": "fc7", "pool5": "flatten"}


# --precision -> Keras dtype policy. bf16 computes in bfloat16 with float32 weights: about
# 2x the fp32 speed where the hardware has bf16 units; fc6 features came out within
# 0.5% of fp32's (relative L2 error per clip, measured on the example video).
PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16"}


def check_precision(precision):
    """Refuse an unknown precision, and bf16 where it would be emulated (~35x slower)."""
    if precision not in PRECISIONS:
        raise C3DError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    if precision == "bf16" and not has_bf16_hardware():
        raise C3DError(
            "precision bf16 needs a GPU or a CPU with AVX-512 BF16 or AMX; this machine has "
            "neither and would emulate it, ~35x slower than fp32"
        )
    return precision


def has_bf16_hardware():
    import keras

    from c3d.runtime import cpu_has_fast_bf16

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        on_gpu = bool(tf.config.list_physical_devices("GPU"))
    elif backend == "jax":
        import jax

        on_gpu = jax.devices()[0].platform != "cpu"
    elif backend == "torch":
        import torch

        on_gpu = torch.cuda.is_available()
    else:
        on_gpu = False
    return on_gpu or cpu_has_fast_bf16()


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


def load_c3d(weights=DEFAULT_WEIGHTS, precision="fp32"):
    """The Sports-1M C3D with ``weights``; fc8 sized as in the file (fine-tuned models too).

    ``precision``: ``fp32`` (as the original), or ``bf16`` (Keras' ``mixed_bfloat16``).
    """
    from c3d.sport1m_model import NUM_CLASSES, C3D_model
    from c3d.weights_io import WeightsFileError, assign_weights, read_weight_file

    check_precision(precision)
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise C3DError(f"{path}: no such weights file ({WEIGHTS_HINT})")
    try:
        arrays = read_weight_file(path)
        fc8 = arrays.get("fc8")
        num_classes = int(fc8[0].shape[-1]) if fc8 else NUM_CLASSES
        with dtype_policy(PRECISIONS[precision]):
            model = C3D_model(num_classes=num_classes)
        assign_weights(model, arrays, source=path, optional=("fc8",))
    except WeightsFileError as exc:
        raise C3DError(str(exc)) from None
    return model


@functools.lru_cache(maxsize=2)
def _cached_c3d(path, mtime_ns, size, precision):
    return load_c3d(path, precision)


def cached_c3d(weights=DEFAULT_WEIGHTS, precision="fp32"):
    """load_c3d, kept for the next call (scripts calling the API per video load it once)."""
    path = os.path.abspath(os.fspath(weights))
    try:
        stat = os.stat(path)
    except OSError:
        return load_c3d(weights, precision)  # raises the "no such weights file" error
    return _cached_c3d(path, stat.st_mtime_ns, stat.st_size, precision)


def check_layer(layer):
    if layer not in FEATURE_LAYERS:
        raise C3DError(f"unknown feature layer {layer!r} (choose from {', '.join(FEATURE_LAYERS)})")
    return layer


def feature_model(model, layer=None):
    """A model whose output is ``layer``'s, from a full C3D or a ready feature extractor.

    With ``layer`` None, a model that already ends at a feature layer (an extractor), or
    has no fc6 (a custom one), is taken as it is; a full C3D is cut at fc6. A named
    ``layer`` is always what comes out (an fc7 extractor is cut back to fc6).
    """
    names = [each.name for each in model.layers]
    if layer is None:
        if names[-1] in FEATURE_LAYERS.values() or "fc6" not in names:
            return model
        layer = "fc6"
    name = FEATURE_LAYERS[check_layer(layer)]
    if names[-1] == name:
        return model
    if name not in names:
        raise C3DError(f"the model has no layer {name!r} to take {layer} features from")
    extractors = _extractors.setdefault(model, {})
    if name not in extractors:
        from c3d.sport1m_model import create_features_extractor

        extractors[name] = create_features_extractor(model, name)
    return extractors[name]


_extractors = weakref.WeakKeyDictionary()
_predict_fns = weakref.WeakKeyDictionary()


def predict_fn(model):
    """``c3d.inference.make_predict_fn(model)``, made once per model (tracing costs seconds)."""
    fn = _predict_fns.get(model)
    if fn is None:
        from c3d.inference import make_predict_fn

        fn = _predict_fns[model] = make_predict_fn(model)
    return fn


def mean_block_for(mean=None):
    """The (16, 112, 112, 3) float32 mean for clips, from a mean cube, a file or None (shipped)."""
    from c3d.mean import load_mean
    from c3d.preprocessing import mean_clip

    if mean is None or isinstance(mean, (str, os.PathLike)):
        try:
            mean = load_mean(mean)
        except ValueError as exc:
            raise C3DError(str(exc)) from None
    try:
        return mean_clip(mean)
    except ValueError as exc:
        raise C3DError(f"mean: {exc}") from None
