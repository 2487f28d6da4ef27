"""The one way from weights to a ready model, for the CLI, training, evaluation and API scripts.

``load_model`` is ``C3D`` (``c3d.model.builder``) with the options the commands take: the
model kind by name, one-line ``C3DError``s for every problem (a bad input shape too), a
hint for shape mismatches, and a per-process cache (``cached_model``). Weights names,
files and fc8's rules are ``c3d.model.resolve``'s, shared with ``C3D(weights=…)``.
"""

import functools
import os

from c3d.errors import C3DError
from c3d.model import plan
from c3d.model.precision import PRECISIONS, check_precision, dtype_policy  # noqa: F401
from c3d.model.presets import DEFAULT
from c3d.model.resolve import (  # noqa: F401  (names the commands import from here)
    WEIGHTS_HINT,
    check_buildable,
    check_classifier,
    check_preset_classifier,
    resolve_weights,
)
from c3d.model.weights import WeightsFileError, file_classes

MODEL_KINDS = ("c3d", "c3d_bn")

# The converted Sports-1M weights in the cache ($C3D_HOME, else ~/.keras/models): found
# from any working directory, and after a plain `pip install`; fetched on first use.
DEFAULT_WEIGHTS = DEFAULT


def is_weights_name(weights):
    """True for the name of known weights (``"sports1m"``), False for a path."""
    from c3d.model.presets import is_preset

    return is_preset(weights)


def load_model(
    weights=DEFAULT_WEIGHTS,
    *,
    kind="c3d",
    num_classes=None,
    input_shape=plan.INPUT_SHAPE,
    precision="fp32",
    new_head=False,
    need_classifier=False,
    hint="",
):
    """C3D (``kind="c3d"``) or C3D-BN (``"c3d_bn"``) with ``weights`` loaded by layer name.

    Args:
        weights: a weights name (``c3d weights`` lists them; fetched on first use) or file.
        num_classes: fc8's size; None takes the file's (487 for a file without fc8).
        new_head: a ``num_classes`` other than the file's leaves fc8 freshly initialised
            (fine-tuning); otherwise that is an error.
        need_classifier: refuse weights without fc8 (mmaction2's Sports-1M backbone)
            instead of giving them a random fc8: for classification, where a random fc8
            would give classes without meaning. A preset published without fc8 is
            refused before it is fetched.
        precision: ``fp32`` (as the original) or ``bf16`` (Keras' ``mixed_bfloat16``).
        hint: appended to the error when the file's layers do not fit the model's shapes,
            e.g. which option to check.
    """
    if kind not in MODEL_KINDS:
        raise C3DError(f"unknown model {kind!r} (choose from {', '.join(MODEL_KINDS)})")
    check_precision(precision)
    try:
        input_shape = plan.check_input_shape(input_shape)
        check_buildable(weights, batch_norm=kind == "c3d_bn")
    except ValueError as exc:
        raise C3DError(str(exc)) from None
    if need_classifier:
        check_preset_classifier(weights)
    path = resolve_weights(weights)  # before Keras loads: a missing file is told at once
    if need_classifier:  # from the file's structure: no array read
        check_classifier(path, file_classes(path))
    from c3d.model.builder import C3D  # Keras loads here, not at import

    try:
        return C3D(
            path,
            num_classes=num_classes,
            input_shape=input_shape,
            batch_norm=kind == "c3d_bn",
            precision=precision,
            new_head=new_head,
        )
    except WeightsFileError as exc:
        raise WeightsFileError(f"{exc}{hint}") from None


@functools.lru_cache(maxsize=2)
def _cached(path, mtime_ns, size, precision):
    return load_model(path, precision=precision)


def cached_model(weights=DEFAULT_WEIGHTS, precision="fp32", need_classifier=False):
    """``load_model``, kept for the next call: API scripts calling per video load it once.

    ``need_classifier`` checks the file's structure for fc8 (no arrays read), so a model
    loaded for features serves classification too.
    """
    if need_classifier:
        check_preset_classifier(weights)
    path = os.path.abspath(resolve_weights(weights))
    if need_classifier:
        check_classifier(path, file_classes(path))
    stat = os.stat(path)
    return _cached(path, stat.st_mtime_ns, stat.st_size, precision)
