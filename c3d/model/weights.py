"""Keras weight files, by layer name: Keras 3 ``.weights.h5`` and legacy Keras 2 ``.h5``.

Matching by layer name (not by position) lets one file serve the full model, the
headless model (``include_top=False``) and a fine-tuning model with a new fc8.
"""

import math
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


MAX_CLASSES = 100_000  # fc8's outputs: ImageNet-21k has 21,841 classes; 100k is 1.6 GB
OTHER_ARRAYS_FACTOR = 4  # an optimizer's state: SGD momentum 1x the weights, Adam's 2x


def check_weight_shapes(path, input_shape=None):
    """Refuse a weights file whose datasets do not fit C3D's layer plan, before any array is
    read or allocated (the file's structure only), in one line naming the file and layer.

    The check ``c3d convert`` makes (``converter.convert.check_shapes``) against
    ``plan.weight_shapes``: each C3D layer's kernel has the plan's shape (fc8's class count
    is the file's, at most ``MAX_CLASSES``), its other arrays (bias) are vectors of its
    width. Entries the plan does not list (C3D-BN's batch norms, a trained file's optimizer
    state) are read too, so each must be no larger than the plan's largest array and all
    together at most ``OTHER_ARRAYS_FACTOR`` times the plan's size. A file declaring a
    dataset of absurd shape (HDF5 allocates nothing until it is read) is refused here
    instead of ending in a MemoryError. Returns fc8's class count, None without fc8.
    """
    from c3d.model import plan

    path = os.fspath(path)
    with _open(path) as root:
        try:
            shapes = {
                name: [tuple(int(n) for n in dataset.shape) for dataset in datasets]
                for name, datasets in weight_datasets(root).items()
            }
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise WeightsFileError(f"{path}: not a readable Keras weights file ({exc})") from None
    head = shapes.get(plan.CLASSIFIER)
    classes = head[0][-1] if head and head[0] else None
    if classes is not None and not 1 <= classes <= MAX_CLASSES:
        raise WeightsFileError(
            f"{path}: layer {plan.CLASSIFIER} has weights of shape {head[0]}: {classes} "
            f"classes, C3D's {plan.CLASSIFIER} takes 1 to {MAX_CLASSES}"
        )
    expected = plan.weight_shapes(classes or plan.NUM_CLASSES, input_shape or plan.INPUT_SHAPE)
    sizes = [math.prod(shape) for shapes_ in expected.values() for shape in shapes_]
    largest, others = max(sizes), 0
    for name, found in shapes.items():
        if name in expected:
            kernel, bias = (tuple(shape) for shape in expected[name])
            fits = bool(found) and found[0] == kernel and all(s == bias for s in found[1:])
            needs = f"{kernel} + {bias}"
        else:
            others += sum(math.prod(s) for s in found)
            fits = all(math.prod(s) <= largest for s in found)
            needs = f"arrays of at most {largest} values"
        if not fits:
            shown = " + ".join(str(s) for s in found) or "nothing"
            raise WeightsFileError(
                f"{path}: layer {name} has weights of shape {shown}, C3D's {name} needs {needs}"
            )
    if others > OTHER_ARRAYS_FACTOR * sum(sizes):
        raise WeightsFileError(
            f"{path}: holds {others} values beside C3D's layers, more than {OTHER_ARRAYS_FACTOR} "
            f"times C3D's own {sum(sizes)}: not a C3D weights file"
        )
    return classes


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
