"""From a ``weights`` argument to a file to load, and the rules that file's fc8 must meet.

The builder (``C3D(weights=…)``) and the loader (``load_model``) both take their weights
through here, and neither imports the other for it:

* ``resolve_weights``: the one place names and paths are told apart. A name of
  ``c3d.model.presets.PRESETS`` is its converted file in the cache folder (``$C3D_HOME``,
  else ``~/.keras/models``), fetched and converted on first use as keras.applications
  does for ``weights="imagenet"``; anything else is a path.
* ``head_size``: how many classes fc8 gets for a file whose fc8 has ``in_file`` classes
  (None: no fc8), so that ``C3D(weights=FILE, num_classes=N)`` and ``load_model`` agree.

Fetching is the converter's job (``converter.fetch``): it is imported when a preset is
missing, the one call from ``c3d`` into ``converter`` besides the CLI's command table and
the mean readers (see docs/ARCHITECTURE.md). Importing this module loads no Keras.
"""

import logging
import os

from c3d.model import plan
from c3d.model.presets import CACHE_ENV, PRESETS, is_preset, offline, preset_path
from c3d.model.weights import WeightsFileError

log = logging.getLogger(__name__)

WEIGHTS_HINT = (
    "a weights name (" + ", ".join(PRESETS) + ": fetched on first use, or ahead with "
    "`c3d fetch-weights`) or a Keras weights file (`c3d convert` converts other files)"
)


def resolve_weights(weights, download=True):
    """The weights file ``weights`` names, fetched on first use; else a one-line error.

    ``download=False`` only looks in the cache. ``$C3D_OFFLINE=1`` never downloads: a
    preset whose published file is already in the cache is still converted.
    """
    if is_preset(weights):
        preset = PRESETS[weights]
        path = preset_path(weights)
        if os.path.isfile(path):
            return path
        if not download:
            raise WeightsFileError(
                f"{path}: no such weights file (the {weights} weights; get them with "
                f"`{preset.how_to_get}`, or set {CACHE_ENV} to the folder that holds "
                f"{preset.file_name})"
            )
        from converter.fetch import fetch_preset  # Keras loads only to convert

        return fetch_preset(preset, allow_download=not offline())
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise WeightsFileError(f"{path}: no such weights file ({WEIGHTS_HINT})")
    return path


def check_buildable(weights, batch_norm=False):
    """Refuse a preset for another network before anything is fetched or built."""
    if not is_preset(weights):
        return
    preset = PRESETS[weights]
    if preset.architecture != "c3d":
        raise ValueError(
            f"the {weights!r} weights are for {preset.architecture}, not C3D. "
            f"Received: weights={weights!r}"
        )
    if batch_norm:
        raise ValueError(
            f"the {weights!r} weights are C3D's, without BatchNorm: C3D-BN takes None or "
            f"a path to C3D-BN weights. Received: weights={weights!r}"
        )


def check_classifier(path, classes, weights=None):
    """Refuse a weights file without fc8 (``classes`` None) where classes are wanted."""
    if classes is not None:
        return
    if is_preset(weights):
        with_fc8 = [p.name for p in PRESETS.values() if p.num_classes is not None]
        raise WeightsFileError(
            f"{path}: the {weights} weights have no fc8: features only (c3d extract); "
            f"classes come from {', '.join(with_fc8)}"
        )
    raise WeightsFileError(
        f"{path}: has no fc8 (converted from a headless file): it gives features, not classes"
    )


def check_preset_classifier(weights):
    """Before fetching: a preset published without fc8 gives no classes (one line)."""
    if is_preset(weights) and PRESETS[weights].num_classes is None:
        check_classifier(preset_path(weights), None, weights)


def head_size(path, in_file, num_classes=None, new_head=False):
    """fc8's size for a model loading ``path``, whose fc8 has ``in_file`` classes.

    ``num_classes`` None takes the file's (487 for a file without fc8). Another count
    than the file's is a fine-tuning model whose fc8 starts fresh: only with
    ``new_head``, else an error, so that a UCF101 file is never read as 487 classes with
    a random fc8. A file without fc8 gets a fresh one of any size (said in the log).
    """
    if num_classes is None:
        num_classes = plan.NUM_CLASSES if in_file is None else in_file
    if in_file is None:
        log.debug("%s: no fc8 in the file; a fresh %d-way fc8", path, num_classes)
    elif in_file != num_classes:
        if not new_head:
            raise WeightsFileError(
                f"{path}: fc8 has {in_file} classes, {num_classes} expected "
                "(new_head=True gives a fresh fc8 for fine-tuning)"
            )
        log.info("%s: fc8 has %d classes; a fresh %d-way fc8 instead", path, in_file, num_classes)
    return num_classes
