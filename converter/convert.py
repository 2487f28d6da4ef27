"""Converting a C3D ``.caffemodel`` into Keras 3 weights for ``c3d.sport1m_model.C3D_model``.

The Keras model is built and its weights are set by layer name, then saved with
``model.save_weights``: Keras 3 files address layers by their position in the model,
so writing the HDF5 file by hand would be fragile. fc8's size comes from the file, so
a fine-tuned C3D (e.g. UCF101, 101 classes) gives a model of that many classes.

Two passes over the file keep the peak memory near "TensorFlow + the model": the
first reads every layer, checks the names, the blob counts and each blob's size
against its shape, and keeps no arrays (a broken file fails in a second, before
TensorFlow loads); the second reads one layer at a time into the model, whose own
shapes the blobs are checked against in between.
"""

import dataclasses
import logging
import math
import os

from tqdm import tqdm

from c3d.atomic import atomic_output, check_folder_writable, check_free_space
from c3d.model import plan
from converter.caffe.model import DIALECT_NAMES, iter_layers
from converter.errors import CaffeFileError
from converter.layout import (
    conv_kernel_to_keras,
    dense_kernel_to_keras,
    drop_leading_ones,
    flatten_dense_kernel_to_keras,
    shape_without_leading_ones,
)
from converter.memory import assign_variable, release_free_heap

log = logging.getLogger(__name__)

# The Caffe -> Keras layer names and every shape come from the one layer plan.
CAFFE_TO_KERAS = plan.CAFFE_TO_KERAS
WEIGHTS_SUFFIX = ".weights.h5"


@dataclasses.dataclass
class LayerInfo:
    """A Caffe layer without its arrays: what the first pass keeps."""

    name: str
    type: str
    shapes: list  # blob shapes as stored


@dataclasses.dataclass
class TableRow:
    caffe_name: str
    caffe_shapes: list  # as stored in the file
    keras_name: str
    keras_shapes: list


def check_output_path(out_path):
    """Keras 3 only writes weights to files named ``*.weights.h5``."""
    out_path = os.fspath(out_path)
    if not out_path.endswith(WEIGHTS_SUFFIX):
        raise CaffeFileError(f"{out_path}: the output must be named *{WEIGHTS_SUFFIX}")
    if os.path.isdir(out_path):
        raise CaffeFileError(f"{out_path}: is a folder")
    return out_path


def keras_name_of(caffe_name):
    """The Keras layer for a Caffe layer name (Caffe names, or Keras names as they are)."""
    return CAFFE_TO_KERAS.get(caffe_name, caffe_name)


def scan_caffemodel(path):
    """(dialect, [LayerInfo]) of every layer; arrays are read, checked and dropped."""
    dialect, infos = None, []
    for layer in iter_layers(path):
        dialect = layer.dialect
        infos.append(LayerInfo(layer.name, layer.type, [tuple(b.shape) for b in layer.blobs]))
    return dialect, infos


def map_layers(path, infos):
    """{Keras layer name: LayerInfo} for the C3D layers; anything else is an error."""
    mapped = {}
    for info in infos:
        if not info.shapes:  # data, ReLU, pooling, dropout, softmax, …
            continue
        keras_name = keras_name_of(info.name)
        if keras_name not in plan.WEIGHTED_LAYERS:
            raise CaffeFileError(
                f"{path}: layer {info.name} has weights but C3D has no such layer "
                "(a net of another architecture?)"
            )
        if keras_name in mapped:
            raise CaffeFileError(
                f"{path}: layers {mapped[keras_name].name} and {info.name} both map to {keras_name}"
            )
        if len(info.shapes) != 2:
            raise CaffeFileError(
                f"{path}: layer {info.name} has {len(info.shapes)} blobs, "
                "C3D's layers have 2 (weights, bias)"
            )
        mapped[keras_name] = info
    missing = [caffe for caffe, name in CAFFE_TO_KERAS.items() if name not in mapped]
    if missing:
        raise CaffeFileError(
            f"{path}: no weights for C3D layer(s) {', '.join(missing)} "
            "(a net of another architecture?)"
        )
    return mapped


def num_classes(path, info):
    """fc8's output size, from its weights' shape (out, in)."""
    shape = shape_without_leading_ones(info.shapes[0], 2)
    if shape is None:
        raise CaffeFileError(
            f"{path}: layer {info.name} has weights of shape {info.shapes[0]}, "
            "not a fully connected layer's (out, in)"
        )
    return int(shape[0])


def check_shapes(path, info, keras_name, expected):
    """Raise unless the stored shapes are ``expected`` (up to the fork's leading 1s)."""
    found = [
        shape_without_leading_ones(s, len(e)) for s, e in zip(info.shapes, expected, strict=True)
    ]
    if found != expected:
        stored = " + ".join(str(s) for s in info.shapes)
        needed = " + ".join(str(s) for s in expected)
        raise CaffeFileError(
            f"{path}: layer {info.name} has blobs {stored}, C3D's {keras_name} needs {needed}"
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


def _load_into(model, path, targets, total):
    """Second pass: set each Keras layer from its Caffe layer, one layer in memory."""
    flattened_shape = plan.pool5_shape()
    layers = tqdm(iter_layers(path), total=total, desc="converting", unit="layer", disable=None)
    for layer in layers:
        if not layer.blobs:
            continue
        keras_name = keras_name_of(layer.name)
        if keras_name not in targets:
            raise CaffeFileError(f"{path}: changed while it was being converted")
        keras_layer, expected = targets.pop(keras_name)
        arrays = [drop_leading_ones(b, len(e)) for b, e in zip(layer.blobs, expected, strict=True)]
        if any(a is None or a.shape != e for a, e in zip(arrays, expected, strict=True)):
            raise CaffeFileError(f"{path}: changed while it was being converted")
        weights = keras_weights(keras_name, *arrays, flattened_shape)
        del layer, arrays  # the Caffe arrays go as soon as the Keras ones exist
        for variable, array in zip(keras_layer.weights, weights, strict=True):
            assign_variable(variable, array)
        del weights
        release_free_heap()
    if targets:
        raise CaffeFileError(f"{path}: changed while it was being converted")


def convert_caffemodel(caffemodel, out_path):
    """Convert ``caffemodel`` to a Keras ``.weights.h5`` at ``out_path`` (atomically).

    Returns the mapping as a list of ``TableRow``.
    """
    caffemodel, out_path = os.fspath(caffemodel), check_output_path(out_path)
    check_folder_writable(os.path.dirname(os.path.abspath(out_path)), "the weights")
    dialect, infos = scan_caffemodel(caffemodel)
    release_free_heap()
    mapped = map_layers(caffemodel, infos)
    classes = num_classes(caffemodel, mapped[plan.CLASSIFIER])
    log.info(
        "%s: %s format, %d layers, %d with weights; fc8 has %d classes",
        caffemodel,
        DIALECT_NAMES[dialect],
        len(infos),
        len(mapped),
        classes,
    )

    caffe_shapes = plan.weight_shapes(classes, layout="caffe")
    keras_shapes = plan.weight_shapes(classes, layout="keras")
    # Keras' HDF5 writer crashes the process on a full disk (a segfault, measured): make
    # sure the float32 weights fit, with 1 MB for HDF5's own structures.
    size = 4 * sum(math.prod(shape) for shapes in keras_shapes.values() for shape in shapes)
    check_free_space(out_path, size + (1 << 20))
    for name, info in mapped.items():
        check_shapes(caffemodel, info, name, caffe_shapes[name])

    # Keras/TensorFlow load here, not at import
    from c3d.model.builder import c3d_sequential

    # Zeros, not a random draw (~1 s): every weight is set from the file below.
    model = c3d_sequential(num_classes=classes, zero_init=plan.WEIGHTED_LAYERS)
    release_free_heap()
    targets = {name: (model.get_layer(name), caffe_shapes[name]) for name in plan.WEIGHTED_LAYERS}
    rows = [
        TableRow(mapped[name].name, mapped[name].shapes, name, keras_shapes[name])
        for name in plan.WEIGHTED_LAYERS
    ]
    _load_into(model, caffemodel, targets, len(infos))
    with atomic_output(out_path) as tmp_path:
        model.save_weights(tmp_path)
    log.info("wrote %s", out_path)
    return rows


def format_table(rows):
    """The mapping as aligned text: Caffe layer, shapes -> Keras layer, shapes."""

    def shapes(items):
        return " + ".join(str(tuple(s)) for s in items)

    cells = [("Caffe layer", "Caffe shapes", "", "Keras layer", "Keras shapes")]
    for r in rows:
        cells.append(
            (r.caffe_name, shapes(r.caffe_shapes), "->", r.keras_name, shapes(r.keras_shapes))
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
