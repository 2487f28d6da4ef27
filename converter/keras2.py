"""Keras weight files of the earlier Keras ports (and Keras 3's) as a ``WeightSource``.

axon-research/c3d-keras converted the authors' Caffe model to Keras 1 (``sports1M_weights_
tf.h5``), and the ``C3D_Sport1M_weights_keras_2.2.4.h5`` most Keras 2 scripts load is that
file saved again by Keras 2.2.4. Both use this project's layer names (``conv1``, ``conv2``,
``conv3a`` … ``fc8``), TensorFlow's channels-last kernels ``(d, h, w, in, out)``, and fc6
rows in the channels-last ``(D, H, W, C)`` order of pool5's flatten (their conversion
script permutes them, as ``converter.layout`` does). They load as they are into
``C3D_model``; ``c3d convert`` rewrites them as a Keras 3 ``.weights.h5``.

Arrays are read from the HDF5 file one layer at a time and brought to Caffe layout (the
layout every source hands the conversion). Files in Theano's channels-first order
(Keras 1 with ``image_dim_ordering="th"``) are refused: their kernels may be flipped for
Theano's true convolution, which the file does not record.
"""

import h5py

from c3d.model import plan
from c3d.model.weights import is_legacy, weight_datasets
from converter.errors import SourceFileError
from converter.layout import (
    caffe_shape_of_keras,
    conv_kernel_to_caffe,
    dense_kernel_to_caffe,
    flatten_dense_kernel_to_caffe,
)
from converter.source import SourceLayer, WeightSource


def _attr(root, name):
    value = root.attrs.get(name)
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _kind(root):
    """("Keras 2.2.4 weights", "Keras 2") and the like, from the file's attributes."""
    if not is_legacy(root):
        return "Keras 3 weights", "Keras 3"
    version = _attr(root, "keras_version") or "1"  # Keras 1 did not record its version
    major = version.split(".")[0]
    what = "model" if "model_weights" in root else "weights"
    backend = _attr(root, "backend")
    kind = f"Keras {version} {what}" + (f" ({backend} backend)" if backend else "")
    return kind, f"Keras {major}"


def _check_channels_last(path, name, shape):
    if name in plan.CONV_NAMES and len(shape) == 5:
        if tuple(shape[2:]) == plan.KERNEL and tuple(shape[:3]) != plan.KERNEL:
            raise SourceFileError(
                f"{path}: layer {name} has a channels-first kernel {tuple(shape)} (Keras 1 "
                "with Theano's dimension order); its kernels may be flipped for Theano's "
                "convolution, so it is not converted: convert the original Caffe model "
                "(c3d fetch-weights) instead"
            )


def _to_caffe(name, kernel, bias):
    if name in plan.CONV_NAMES:
        return [conv_kernel_to_caffe(kernel), bias]
    if name == plan.FIRST_DENSE:
        return [flatten_dense_kernel_to_caffe(kernel, plan.pool5_shape()), bias]
    return [dense_kernel_to_caffe(kernel), bias]


def _open(path):
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise SourceFileError(f"{path}: not a readable HDF5 file ({exc})") from None


def open_keras_file(path):
    """First pass: the ``WeightSource`` of a Keras weights file (its structure; no arrays)."""
    with _open(path) as root:
        try:
            datasets = weight_datasets(root)
        except (KeyError, OSError) as exc:
            raise SourceFileError(f"{path}: an HDF5 file, but not Keras weights ({exc})") from None
        kind, column = _kind(root)
        layers = []
        for name, sets in datasets.items():
            stored = [tuple(d.shape) for d in sets]
            _check_channels_last(path, name, stored[0])
            keras_name = name if name in plan.WEIGHTED_LAYERS else None
            shapes = [caffe_shape_of_keras(s) for s in stored]
            layers.append(SourceLayer(name, keras_name, shapes, stored))
    if not layers:
        raise SourceFileError(f"{path}: an HDF5 file without Keras layer weights")

    def arrays():
        with _open(path) as root:
            found = weight_datasets(root)
            for layer in layers:
                sets = found.get(layer.name)
                if sets is None or [tuple(d.shape) for d in sets] != layer.stored:
                    raise SourceFileError(f"{path}: changed while it was being converted")
                blobs = [d[()] for d in sets]
                if layer.keras_name is not None and len(blobs) == 2:
                    blobs = _to_caffe(layer.keras_name, *blobs)
                ready = [(layer.keras_name, blobs)]
                del blobs
                yield ready.pop()

    return WeightSource(
        path=path,
        kind=kind,
        details=["channels-last", f"{len(layers)} layers with weights"],
        column=column,
        layers=layers,
        names={name: name for name in plan.WEIGHTED_LAYERS},
        arrays=arrays,
    )
