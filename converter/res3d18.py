"""A Res3D-18 Caffe file (C3D v1.1) → Keras 3 weights for ``c3d.Res3D18``.

``convert.convert_weights`` hands a Caffe file here when its layers are Res3D-18's
(``is_res3d18``). The C3D v1.1 fork writes upstream-style messages (``layer``, blobs with
``shape``); a training snapshot also holds data, split, ReLU, Eltwise and loss layers,
which have no blobs and are skipped. Every layer with blobs must be one of the plan's
(``res3d18_plan.CAFFE_LAYERS``), with the blob count and shapes the plan gives; then:

* ``Convolution3D`` (out, in, d, h, w) → Keras (d, h, w, in, out), no bias;
* ``BatchNorm`` (mean, variance, scale factor sf) → the Keras BatchNormalization's
  moving mean and variance, mean / sf and variance / sf, as Caffe computes them at
  inference (sf == 0 gives 0, as Caffe's ``scale_factor`` does). A snapshot written in
  training says ``use_global_stats: false``; inference uses these statistics anyway;
* ``Scale`` (gamma, beta) → the same BatchNormalization's gamma and beta;
* ``fc8`` (out, 512) → Keras (512, out) and its bias: pool5 is 1x1x1, so the flatten
  order of Caffe and Keras agree.

Nothing is summed into the kernels: the Keras model keeps Caffe's layers one for one,
so fine-tuning starts from the authors' BatchNorm statistics.
"""

import logging
import math

from c3d.atomic import atomic_output, check_free_space
from c3d.model import res3d18_plan as plan
from converter.caffe.model import iter_layers
from converter.errors import SourceFileError
from converter.layout import (
    conv_kernel_to_keras,
    dense_kernel_to_keras,
    drop_leading_ones,
    shape_without_leading_ones,
)
from converter.memory import assign_variable, release_free_heap

log = logging.getLogger(__name__)

# Layers only Res3D-18 has: a C3D file never names one of these.
_MARKERS = frozenset(name for name in plan.CAFFE_LAYERS if name != plan.CLASSIFIER) - {
    plan.CONV1.name
}


def is_res3d18(source):
    """Whether a Caffe ``WeightSource``'s layers with weights are Res3D-18's (by name)."""
    return source.column == "Caffe" and any(layer.name in _MARKERS for layer in source.layers)


def found(source, limit=6):
    """What a file holds, for a refusal: its count of layers with weights and the first names."""
    names = [layer.name for layer in source.layers]
    shown = ", ".join(names[:limit]) + (", …" if len(names) > limit else "")
    return f"found {len(names)} layers with weights ({shown})"


def map_layers(source):
    """{Caffe layer: SourceLayer}, checked against the plan; fc8 may be missing."""
    path, mapped = source.path, {}
    for layer in source.layers:
        if layer.name not in plan.CAFFE_LAYERS:
            raise SourceFileError(
                f"{path}: layer {layer.name} has weights but Res3D-18 has no such layer "
                f"(a net of another architecture?); {found(source)}"
            )
        if layer.name in mapped:
            raise SourceFileError(f"{path}: layer {layer.name} is in the file twice")
        kind = plan.CAFFE_LAYERS[layer.name][1]
        wanted = plan.CAFFE_BLOB_COUNTS[kind]
        if len(layer.shapes) != wanted:
            raise SourceFileError(
                f"{path}: layer {layer.name} has {len(layer.shapes)} blobs, Res3D-18's "
                f"{kind.replace('_', ' ')} layers have {wanted}"
            )
        mapped[layer.name] = layer
    missing = [name for name in plan.CAFFE_LAYERS if name != plan.CLASSIFIER and name not in mapped]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise SourceFileError(
            f"{path}: no weights for Res3D-18 layer(s) {', '.join(missing[:3])}{more} "
            "(a net of another architecture, or a file cut short?)"
        )
    return mapped


def check_shapes(path, mapped, caffe_shapes):
    for name, layer in mapped.items():
        expected = caffe_shapes[name]
        got = [
            shape_without_leading_ones(s, len(e))
            for s, e in zip(layer.shapes, expected, strict=True)
        ]
        if got != expected:
            stored = " + ".join(str(tuple(s)) for s in layer.shapes)
            needed = " + ".join(str(s) for s in expected)
            raise SourceFileError(
                f"{path}: layer {name} has blobs {stored}, Res3D-18's {name} needs {needed}"
            )


def batch_norm_statistics(mean, variance, scale_factor):
    """Caffe's inference statistics: the stored sums divided by the scale factor.

    Caffe's BatchNorm keeps running sums and their weight sf; at inference it uses
    mean / sf and variance / sf, with 1 / sf taken as 0 when sf is 0 (a layer never
    updated).
    """
    factor = float(scale_factor.reshape(-1)[0])
    inverse = 0.0 if factor == 0 else 1.0 / factor
    return mean * inverse, variance * inverse


def _assign(keras_layer, kind, arrays):
    if kind == plan.CONV:
        assign_variable(keras_layer.kernel, conv_kernel_to_keras(arrays[0]))
    elif kind == plan.BATCH_NORM:
        mean, variance = batch_norm_statistics(*arrays)
        assign_variable(keras_layer.moving_mean, mean.astype("float32"))
        assign_variable(keras_layer.moving_variance, variance.astype("float32"))
    elif kind == plan.SCALE:
        assign_variable(keras_layer.gamma, arrays[0])
        assign_variable(keras_layer.beta, arrays[1])
    else:
        assign_variable(keras_layer.kernel, dense_kernel_to_keras(arrays[0]))
        assign_variable(keras_layer.bias, arrays[1])


def _load_into(path, model, caffe_shapes):
    """Second pass: each Caffe layer's blobs into its Keras layer, one layer in memory."""
    left = set(caffe_shapes)
    for layer in iter_layers(path):
        if not layer.blobs:
            continue
        if layer.name not in left:
            raise SourceFileError(f"{path}: changed while it was being converted")
        left.discard(layer.name)
        keras_name, kind = plan.CAFFE_LAYERS[layer.name]
        expected = caffe_shapes[layer.name]
        arrays = [drop_leading_ones(b, len(e)) for b, e in zip(layer.blobs, expected, strict=True)]
        if any(a is None or a.shape != e for a, e in zip(arrays, expected, strict=True)):
            raise SourceFileError(f"{path}: changed while it was being converted")
        _assign(model.get_layer(keras_name), kind, arrays)
        del arrays, layer
    if left:
        raise SourceFileError(f"{path}: changed while it was being converted")
    release_free_heap()


def convert_res3d18(source, out_path, num_classes=None):
    """Write the Res3D-18 weights of Caffe ``source`` to ``out_path``; returns a ``Conversion``."""
    from converter.convert import NEW_LAYER, Conversion, TableRow, classes_in_file, head_size

    path = source.path
    mapped = map_layers(source)
    in_file = classes_in_file(path, mapped.get(plan.CLASSIFIER))
    classes = head_size(path, in_file, num_classes)
    log.info("%s: %s, Res3D-18 (C3D v1.1), %s", path, source.kind, ", ".join(source.details))
    caffe_shapes = plan.weight_shapes(classes or plan.NUM_CLASSES, layout="caffe")
    keras_shapes = plan.weight_shapes(classes or plan.NUM_CLASSES, layout="keras")
    caffe_shapes = {name: caffe_shapes[name] for name in mapped}
    check_shapes(path, mapped, caffe_shapes)
    size = sum(4 * math.prod(s) for shapes in keras_shapes.values() for s in shapes)
    check_free_space(out_path, size + (1 << 20))

    from c3d.model.res3d18 import res3d18_functional

    model = res3d18_functional(classes, zero_init=plan.WEIGHTED_LAYERS)
    rows = []
    for name, layer in mapped.items():
        keras_name = plan.CAFFE_LAYERS[name][0]
        rows.append(TableRow(name, layer.shapes, keras_name, keras_shapes[keras_name]))
    if classes is not None and in_file is None:
        rows.append(TableRow(NEW_LAYER, [], plan.CLASSIFIER, keras_shapes[plan.CLASSIFIER]))
    _load_into(path, model, caffe_shapes)
    with atomic_output(out_path) as tmp_path:
        model.save_weights(tmp_path)
    log.info("wrote %s", out_path)
    return Conversion(source, rows, classes)
