"""The one way from a weights file to a ready model, for the API, CLI, training and evaluation.

``load_model`` resolves the weights (a name such as ``"sports1m"``, or a path), reads the
class count from the file when not told, builds C3D, C3D-BN or Res3D-18 (the file's
architecture when not told) at the asked precision and input shape, and loads the
weights by layer name. Every problem is a one-line ``C3DError``
naming the file.
"""

import contextlib
import functools
import os

from c3d.errors import C3DError
from c3d.model import plan
from c3d.model.presets import CACHE_ENV, PRESETS, preset_path

MODEL_KINDS = ("c3d", "c3d_bn", "res3d18")  # c3d.model.architectures.MODEL_NAMES

# --precision -> Keras dtype policy. bf16 computes in bfloat16 with float32 weights: about
# 2x the fp32 speed where the hardware has bf16 units; fc6 features came out within
# 0.5% of fp32's (relative L2 error per clip, measured on the example video).
PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16"}

# The converted Sports-1M weights in the cache ($C3D_HOME, else ~/.keras/models): found
# from any working directory, and after a plain `pip install`.
DEFAULT_WEIGHTS = "sports1m"
WEIGHTS_HINT = (
    "a weights name (" + ", ".join(PRESETS) + ") or a Keras weights file; "
    "`c3d fetch-weights` gets the Sports-1M weights, `c3d convert` converts other files"
)


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


def is_weights_name(weights):
    """True for the name of known weights (``"sports1m"``), False for a path."""
    return isinstance(weights, str) and weights in PRESETS


def resolve_weights(weights):
    """The weights file ``weights`` names, or a one-line ``WeightsFileError`` saying how to get it.

    The one place names and paths are told apart: a name of ``c3d.model.presets.PRESETS``
    is its converted file in the cache folder (``$C3D_HOME``, else ``~/.keras/models``);
    anything else is a path, as it always was.
    """
    from c3d.model.weights import WeightsFileError

    if is_weights_name(weights):
        preset = PRESETS[weights]
        path = preset_path(weights)
        if not os.path.isfile(path):
            raise WeightsFileError(
                f"{path}: no such weights file (the {weights} weights; get them with "
                f"`{preset.how_to_get}`, or set {CACHE_ENV} to the folder that holds "
                f"{preset.file_name})"
            )
        return path
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise WeightsFileError(f"{path}: no such weights file ({WEIGHTS_HINT})")
    return path


def load_model(
    weights=DEFAULT_WEIGHTS,
    *,
    kind=None,
    num_classes=None,
    input_shape=None,
    precision="fp32",
    new_head=False,
    need_classifier=False,
    hint="",
):
    """C3D (``kind="c3d"``), C3D-BN (``"c3d_bn"``) or Res3D-18 (``"res3d18"``) with
    ``weights`` loaded by layer name.

    Args:
        kind: None takes the file's: ``res3d18`` for a file with Res3D-18's layers, else
            ``c3d``. A kind the file does not hold is refused in one line.
        input_shape: None is the model's own (C3D 16x112x112x3, Res3D-18 8x112x112x3).
        num_classes: fc8's size; None takes the file's (487 for a headless file).
        new_head: a file whose fc8 has another class count leaves fc8 freshly initialised
            (fine-tuning); otherwise that is an error.
        need_classifier: refuse a file without fc8 (converted from a headless file, such
            as mmaction2's Sports-1M backbone) instead of giving it a random fc8: for
            classification, where a random fc8 would give classes without meaning.
        precision: ``fp32`` (as the original) or ``bf16`` (Keras' ``mixed_bfloat16``).
        hint: appended to the error when the file's layers do not fit the model's shapes,
            e.g. which option to check.
    """
    if kind is not None and kind not in MODEL_KINDS:
        raise C3DError(f"unknown model {kind!r} (choose from {', '.join(MODEL_KINDS)})")
    check_precision(precision)
    path = resolve_weights(weights)  # before Keras loads: a missing file is told at once

    from c3d.model.architectures import architecture
    from c3d.model.weights import (
        WeightsFileError,
        assign_weights,
        classes_in,
        file_architecture,
        file_classes,
        read_weight_file,
    )

    in_file_kind = file_architecture(path)
    kind = check_kind(path, kind, in_file_kind)
    model_plan = architecture(kind).plan
    if input_shape is None:
        input_shape = model_plan.INPUT_SHAPE
    try:
        input_shape = model_plan.check_input_shape(input_shape)
    except ValueError as exc:
        raise C3DError(str(exc)) from None
    if need_classifier:  # from the file's structure: no array read
        check_classifier(path, file_classes(path))
    arrays = read_weight_file(path)
    in_file = classes_in(arrays)
    if num_classes is None:
        num_classes = in_file or plan.NUM_CLASSES
    elif in_file is not None and in_file != num_classes and not new_head:
        raise WeightsFileError(f"{path}: fc8 has {in_file} classes, {num_classes} expected")
    with dtype_policy(PRECISIONS[precision]):
        if kind == "res3d18":
            from c3d.model.res3d18 import res3d18_functional

            model = res3d18_functional(
                num_classes, input_shape, zero_init=model_plan.WEIGHTED_LAYERS[:-1]
            )
        else:
            from c3d.model.builder import c3d_sequential

            model = c3d_sequential(
                num_classes=num_classes,
                input_shape=input_shape,
                batch_norm=kind == "c3d_bn",
                zero_init=plan.WEIGHTED_LAYERS[:-1],
            )
    try:
        assign_weights(model, arrays, source=path, optional=(model_plan.CLASSIFIER,))
    except WeightsFileError as exc:
        raise WeightsFileError(f"{exc}{hint}") from None
    return model


def check_kind(path, kind, in_file):
    """The model to build: ``kind``, or the file's (``in_file``) when None; a mismatch
    between Res3D-18 and the C3Ds is refused in one line."""
    if kind is None:
        return in_file
    if (kind == "res3d18") != (in_file == "res3d18"):
        from c3d.model.architectures import architecture
        from c3d.model.weights import WeightsFileError

        raise WeightsFileError(
            f"{path}: holds {architecture(in_file).title} weights, not "
            f"{architecture(kind).title}'s (--model {in_file})"
        )
    return kind


def check_classifier(path, classes):
    """Refuse a weights file without fc8 (``classes`` None) where classes are wanted."""
    if classes is None:
        from c3d.model.weights import WeightsFileError

        raise WeightsFileError(
            f"{path}: has no fc8 (converted from a headless file): it gives features, not classes"
        )


@functools.lru_cache(maxsize=2)
def _cached(path, mtime_ns, size, precision):
    return load_model(path, precision=precision)


def cached_model(weights=DEFAULT_WEIGHTS, precision="fp32", need_classifier=False):
    """``load_model``, kept for the next call: API scripts calling per video load it once.

    ``need_classifier`` checks the file's structure for fc8 (no arrays read), so a model
    loaded for features serves classification too.
    """
    path = os.path.abspath(resolve_weights(weights))
    if need_classifier:
        from c3d.model.weights import file_classes

        check_classifier(path, file_classes(path))
    stat = os.stat(path)
    return _cached(path, stat.st_mtime_ns, stat.st_size, precision)
