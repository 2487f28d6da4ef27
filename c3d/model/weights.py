"""Keras weight files, by layer name: Keras 3 ``.weights.h5`` and legacy Keras 2 ``.h5``.

Matching by layer name (not by position) lets one file serve the full model, the
headless model (``include_top=False``) and a fine-tuning model with a new fc8.
"""

import os

import h5py
import numpy as np

from c3d.errors import C3DError


class WeightsFileError(C3DError, ValueError):
    """A weights file that cannot be read or does not fit the model (one line, PATH: reason)."""


def _decode(name):
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def _keras3_datasets(root):
    """Keras 3 layout: ``layers/<attr>/vars/{0,1,…}``, the layer name in ``vars.attrs['name']``."""
    found = {}

    def visit(_, obj):
        if isinstance(obj, h5py.Group) and obj.name.endswith("/vars") and "name" in obj.attrs:
            datasets = [obj[key] for key in sorted(obj.keys(), key=int)]
            if datasets:
                found[_decode(obj.attrs["name"])] = datasets

    root.visititems(visit)
    return found


def _legacy_datasets(root):
    """Keras 1/2 layout: root attr ``layer_names``, each group listing ``weight_names``."""
    if "model_weights" in root:  # a whole model saved with model.save()
        root = root["model_weights"]
    found = {}
    for layer_name in map(_decode, root.attrs["layer_names"]):
        group = root[layer_name]
        names = [_decode(n) for n in group.attrs.get("weight_names", [])]
        if names:
            found[layer_name] = [group[name] for name in names]
    return found


def is_legacy(root):
    """True for a Keras 1/2 ``.h5`` (weights or whole model), False for Keras 3's layout."""
    return "layer_names" in root.attrs or "model_weights" in root


def weight_datasets(root):
    """{layer name: [h5py datasets in the layer's weight order]} of an open Keras file.

    Nothing is read: shapes are known from the datasets, arrays are read when asked for
    (``dataset[()]``), so a caller can hold one layer at a time.
    """
    return _legacy_datasets(root) if is_legacy(root) else _keras3_datasets(root)


def _open(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsFileError(f"{path}: no such weights file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise WeightsFileError(f"{path}: not a readable HDF5 weights file ({exc})") from None


def read_weight_file(path):
    """Return {layer name: [arrays in the layer's weight order]} from a Keras weights file."""
    path = os.fspath(path)
    with _open(path) as root:
        try:
            weights = {
                name: [dataset[()] for dataset in datasets]
                for name, datasets in weight_datasets(root).items()
            }
        except (OSError, KeyError) as exc:
            raise WeightsFileError(f"{path}: not a readable Keras weights file ({exc})") from None
    if not weights:
        raise WeightsFileError(f"{path}: no layer weights found in the file")
    return weights


def file_classes(path):
    """fc8's class count in the weights file at ``path``, None if it has no fc8; reads no
    arrays (the file's structure only)."""
    from c3d.model.plan import CLASSIFIER

    path = os.fspath(path)
    with _open(path) as root:
        try:
            datasets = weight_datasets(root).get(CLASSIFIER)
        except (OSError, KeyError) as exc:
            raise WeightsFileError(f"{path}: not a readable Keras weights file ({exc})") from None
        return int(datasets[0].shape[-1]) if datasets else None


def file_architecture(path):
    """The ``--model`` a weights file is for, from its layer names (no array read):
    ``res3d18`` when it has Res3D-18's layers, else ``c3d``."""
    from c3d.model import res3d18_plan

    path = os.fspath(path)
    with _open(path) as root:
        try:
            names = set(weight_datasets(root))
        except (OSError, KeyError) as exc:
            raise WeightsFileError(f"{path}: not a readable Keras weights file ({exc})") from None
    return "res3d18" if res3d18_plan.CONV1.bn in names else "c3d"


def classes_in(weights):
    """fc8's class count in {layer: arrays}, or None for a headless file."""
    from c3d.model.plan import CLASSIFIER

    arrays = weights.get(CLASSIFIER)
    return int(np.shape(arrays[0])[-1]) if arrays else None


def assign_weights(model, weights, source, optional=()):
    """Set each layer of ``model`` that has weights from ``weights`` (by layer name).

    Layers named in ``optional`` are left as initialised when the file lacks them or
    their shapes differ (a new fc8 for fine-tuning). Anything else that is missing or
    of the wrong shape is an error naming the file, layer and shapes.
    """
    for layer in model.layers:
        expected = [tuple(w.shape) for w in layer.weights]
        if not expected:
            continue
        arrays = weights.get(layer.name)
        if arrays is None:
            if layer.name in optional:
                continue
            raise WeightsFileError(f"{source}: no weights for layer {layer.name}")
        shapes = [tuple(np.shape(a)) for a in arrays]
        if shapes != expected:
            if layer.name in optional:
                continue
            raise WeightsFileError(
                f"{source}: layer {layer.name} has weights of shape {shapes}, "
                f"the model expects {expected}"
            )
        layer.set_weights(arrays)


def load_weights_into(model, weights, optional=()):
    """Read the weights file ``weights`` and set ``model``'s layers from it (by name)."""
    path = os.fspath(weights)
    assign_weights(model, read_weight_file(path), source=path, optional=optional)
