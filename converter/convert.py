"""Any C3D weights file c3d reads → Keras 3 weights for ``c3d.C3D_model``: the one path.

A Caffe file whose layers are Res3D-18's (C3D v1.1) goes to ``converter.res3d18``
instead, which reads the same Caffe layers against Res3D-18's plan.

``open_source`` tells the file's format from its content (``converter.sniff``) and lets
that format's reader make a first pass (``caffe.source``, ``torch_state``, ``keras2``):
each gives a ``WeightSource`` whose arrays come in Caffe layout, keyed by our layer
names. From there every format goes the same way: the layers are checked against the
layer plan (names, blob counts, shapes in ``plan.weight_shapes(..., layout="caffe")``),
a Keras model is built, each layer's kernel transposed and fc6's rows permuted
(``converter.layout``) into it, one layer in memory at a time, and the model's weights
saved with ``model.save_weights`` to a temporary name that is renamed when complete:
Keras 3 files address layers by their position in the model, so writing the HDF5 file
by hand would be fragile.

fc8's size comes from the file, so a fine-tuned C3D (e.g. UCF101, 101 classes) gives a
model of that many classes. A file without fc8 (mmaction2's Sports-1M backbone) gives a
file without fc8, which ``C3D_model(weights=…)`` and ``c3d extract`` load with a fresh
fc8 (fine-tuning, features), or, with ``num_classes``, a fresh fc8 of that size.
"""

import dataclasses
import logging
import math
import os

from tqdm import tqdm

from c3d.atomic import atomic_output, check_folder_writable, check_free_space
from c3d.model import plan
from converter.errors import SourceFileError
from converter.layout import (
    conv_kernel_to_keras,
    dense_kernel_to_keras,
    drop_leading_ones,
    flatten_dense_kernel_to_keras,
    shape_without_leading_ones,
)
from converter.memory import assign_variable, release_free_heap
from converter.sniff import CAFFE, KERAS_HDF5, TORCH_FORMATS, sniff

log = logging.getLogger(__name__)

WEIGHTS_SUFFIX = ".weights.h5"
NEW_LAYER = "(new)"  # the table's source column for a fresh fc8


@dataclasses.dataclass
class TableRow:
    source_name: str  # the layer's name in the source file
    source_shapes: list  # as stored in the file
    keras_name: str
    keras_shapes: list


@dataclasses.dataclass
class Conversion:
    """What ``convert_weights`` did: the source it read, the table, fc8's size (None: none)."""

    source: object  # converter.source.WeightSource
    rows: list
    num_classes: int | None


def check_output_path(out_path):
    """Keras 3 only writes weights to files named ``*.weights.h5``."""
    out_path = os.fspath(out_path)
    if not out_path.endswith(WEIGHTS_SUFFIX):
        raise SourceFileError(f"{out_path}: the output must be named *{WEIGHTS_SUFFIX}")
    if os.path.isdir(out_path):
        raise SourceFileError(f"{out_path}: is a folder")
    return out_path


def open_source(path):
    """The ``WeightSource`` of the file at ``path``, whatever its format (first pass)."""
    path = os.fspath(path)
    kind = sniff(path)
    if kind in TORCH_FORMATS:
        from converter.torch_state import open_torch_state

        return open_torch_state(path, kind)
    if kind == KERAS_HDF5:
        from converter.keras2 import open_keras_file

        return open_keras_file(path)
    assert kind == CAFFE, kind
    from converter.caffe.source import open_caffemodel

    return open_caffemodel(path)


def map_layers(source):
    """{C3D layer: SourceLayer} of the source's layers; anything not C3D's is an error.

    Every layer up to fc7 must be there; fc8 may be missing (a headless file).
    """
    from converter.res3d18 import found

    path, mapped = source.path, {}
    for layer in source.layers:  # first: a layer of another net says the most
        if layer.keras_name not in plan.WEIGHTED_LAYERS:
            raise SourceFileError(
                f"{path}: layer {layer.name} has weights but C3D has no such layer "
                f"(a net of another architecture: neither C3D nor Res3D-18?); {found(source)}"
            )
    for layer in source.layers:
        if layer.keras_name in mapped:
            raise SourceFileError(
                f"{path}: layers {mapped[layer.keras_name].name} and {layer.name} both map "
                f"to {layer.keras_name}"
            )
        if len(layer.shapes) != 2:
            raise SourceFileError(
                f"{path}: layer {layer.name} has {len(layer.shapes)} blobs, "
                "C3D's layers have 2 (weights, bias)"
            )
        mapped[layer.keras_name] = layer
    missing = [source.names[name] for name in plan.WEIGHTED_LAYERS[:-1] if name not in mapped]
    if missing:
        raise SourceFileError(
            f"{path}: no weights for C3D layer(s) {', '.join(missing)} "
            "(a net of another architecture?)"
        )
    return mapped


def classes_in_file(path, layer):
    """fc8's output size, from its weights' shape (out, in); None without fc8."""
    if layer is None:
        return None
    shape = shape_without_leading_ones(layer.shapes[0], 2)
    if shape is None:
        raise SourceFileError(
            f"{path}: layer {layer.name} has weights of shape {layer.stored[0]}, "
            "not a fully connected layer's"
        )
    return int(shape[0])


def check_num_classes(num_classes):
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise SourceFileError(f"--num-classes must be a positive integer, got {num_classes!r}")
    return num_classes


def head_size(path, in_file, num_classes):
    """fc8's size in the output: the file's, ``num_classes`` for a file without fc8, or None."""
    if in_file is None:
        return num_classes
    if num_classes is not None and num_classes != in_file:
        raise SourceFileError(
            f"{path}: fc8 has {in_file} classes, --num-classes asks for {num_classes} "
            "(leave it out to keep the file's fc8; C3D_model(num_classes=…) gives a fresh one)"
        )
    return in_file


def check_shapes(path, layer, keras_name, expected):
    """Raise unless the shapes are ``expected`` (Caffe layout, up to leading 1s)."""
    found = [
        shape_without_leading_ones(s, len(e)) for s, e in zip(layer.shapes, expected, strict=True)
    ]
    if found != expected:
        stored = " + ".join(str(tuple(s)) for s in layer.stored)
        if layer.stored != layer.shapes:
            stored += " (" + " + ".join(str(tuple(s)) for s in layer.shapes) + " in Caffe layout)"
        needed = " + ".join(str(s) for s in expected)
        raise SourceFileError(
            f"{path}: layer {layer.name} has blobs {stored}, C3D's {keras_name} needs {needed}"
        )


def keras_weights(keras_name, caffe_weights, caffe_bias, flattened_shape):
    """[kernel, bias] for Keras from Caffe-layout arrays (leading 1s already dropped).

    ``flattened_shape``: the (D, H, W, C) output of pool5, which fc6's rows follow.
    """
    if keras_name in plan.CONV_NAMES:
        kernel = conv_kernel_to_keras(caffe_weights)
    elif keras_name == plan.FIRST_DENSE:
        kernel = flatten_dense_kernel_to_keras(caffe_weights, flattened_shape)
    else:
        kernel = dense_kernel_to_keras(caffe_weights)
    return [kernel, caffe_bias]


def _load_into(source, targets):
    """Second pass: set each Keras layer from the source's arrays, one layer in memory.

    The progress bar is updated by hand: wrapping the iterator would keep each layer's
    source arrays alive (in tqdm's frame) while the next layer is read.
    """
    path, flattened_shape = source.path, plan.pool5_shape()
    changed = SourceFileError(f"{path}: changed while it was being converted")
    with tqdm(total=len(targets), desc="converting", unit="layer", disable=None) as bar:
        for keras_name, blobs in source.arrays():
            if keras_name not in targets:
                raise changed
            keras_layer, expected = targets.pop(keras_name)
            arrays = [drop_leading_ones(b, len(e)) for b, e in zip(blobs, expected, strict=True)]
            del blobs
            if any(a is None or a.shape != e for a, e in zip(arrays, expected, strict=True)):
                raise changed
            weights = keras_weights(keras_name, *arrays, flattened_shape)
            del arrays  # the source arrays go as soon as the Keras ones exist
            for variable, array in zip(keras_layer.weights, weights, strict=True):
                assign_variable(variable, array)
            del weights
            release_free_heap()
            bar.update(1)
    if targets:
        raise changed


def _describe(source, in_file, classes):
    found = f"{source.path}: {source.kind}, " + ", ".join(source.details)
    if in_file is not None:
        return f"{found}; fc8 has {in_file} classes"
    if classes is not None:
        return f"{found}; no fc8: a fresh {classes}-way fc8 (random, to be trained)"
    return f"{found}; no fc8: a headless model (conv1-fc7), features only"


def convert_weights(source_path, out_path, num_classes=None):
    """Convert the C3D weights file ``source_path`` to a Keras ``.weights.h5`` at ``out_path``.

    Caffe (either dialect), PyTorch (``torch.save``: DavideA/c3d-pytorch, mmaction2) or
    Keras (1, 2, 3) files, told apart by their content. ``num_classes`` sizes a fresh fc8
    for a file without one. Written atomically; returns a ``Conversion``.
    """
    out_path = check_output_path(out_path)
    check_folder_writable(os.path.dirname(os.path.abspath(out_path)), "the weights")
    check_num_classes(num_classes)
    source = open_source(source_path)
    release_free_heap()
    from converter.res3d18 import convert_res3d18, is_res3d18

    if is_res3d18(source):  # told by its layers' names (C3D v1.1's residual net)
        return convert_res3d18(source, out_path, num_classes)
    mapped = map_layers(source)
    in_file = classes_in_file(source.path, mapped.get(plan.CLASSIFIER))
    classes = head_size(source.path, in_file, num_classes)
    log.info("%s", _describe(source, in_file, classes))

    caffe_shapes = plan.weight_shapes(classes or plan.NUM_CLASSES, layout="caffe")
    keras_shapes = plan.weight_shapes(classes or plan.NUM_CLASSES, layout="keras")
    for name, layer in mapped.items():
        check_shapes(source.path, layer, name, caffe_shapes[name])
    # Keras' HDF5 writer crashes the process on a full disk (a segfault, measured): make
    # sure the float32 weights fit, with 1 MB for HDF5's own structures.
    size = sum(4 * math.prod(shape) for name in mapped for shape in keras_shapes[name])
    check_free_space(out_path, size + (1 << 20))

    # Keras/TensorFlow load here, not at import
    from c3d.model.builder import c3d_sequential

    # Zeros, not a random draw (~1 s), for every layer set from the file below.
    model = c3d_sequential(num_classes=classes, zero_init=tuple(mapped))
    release_free_heap()
    targets = {name: (model.get_layer(name), caffe_shapes[name]) for name in mapped}
    rows = [
        TableRow(mapped[name].name, mapped[name].stored, name, keras_shapes[name])
        for name in plan.WEIGHTED_LAYERS
        if name in mapped
    ]
    if classes is not None and in_file is None:
        rows.append(TableRow(NEW_LAYER, [], plan.CLASSIFIER, keras_shapes[plan.CLASSIFIER]))
    _load_into(source, targets)
    with atomic_output(out_path) as tmp_path:
        model.save_weights(tmp_path)
    log.info("wrote %s", out_path)
    return Conversion(source, rows, classes)


def format_table(rows, column="Caffe"):
    """The mapping as aligned text: source layer, shapes -> Keras layer, shapes."""

    def shapes(items):
        return " + ".join(str(tuple(s)) for s in items)

    cells = [(f"{column} layer", f"{column} shapes", "", "Keras layer", "Keras shapes")]
    for r in rows:
        cells.append(
            (r.source_name, shapes(r.source_shapes), "->", r.keras_name, shapes(r.keras_shapes))
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
