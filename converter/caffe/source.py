"""A Caffe ``.caffemodel`` (either dialect) as a ``WeightSource`` for the conversion path.

Two passes over the file keep the peak memory near "TensorFlow + the model": the first
reads every layer, checks its blobs against their shapes and keeps no arrays (a broken
file fails in a second, before TensorFlow loads); the second (``arrays()``) reads one
layer at a time and hands its arrays over without keeping them.
"""

from c3d.model import plan
from converter.caffe.model import DIALECT_NAMES, iter_layers
from converter.source import SourceLayer, WeightSource


def keras_name_of(caffe_name):
    """The C3D layer of a Caffe layer name (the authors' names, or Keras' names as they are)."""
    name = plan.CAFFE_TO_KERAS.get(caffe_name, caffe_name)
    return name if name in plan.WEIGHTED_LAYERS else None


def open_caffemodel(path):
    """First pass: the ``WeightSource`` of a caffemodel; arrays are read, checked and dropped."""
    dialect, layers, count = None, [], 0
    for layer in iter_layers(path):
        dialect, count = layer.dialect, count + 1
        if layer.blobs:  # data, ReLU, pooling, dropout, softmax, … have none
            shapes = [tuple(b.shape) for b in layer.blobs]
            layers.append(SourceLayer(layer.name, keras_name_of(layer.name), shapes))

    def arrays():
        for layer in iter_layers(path):
            if layer.blobs:
                # Handed over through a list, so that this frame keeps no array while the
                # caller converts them.
                ready = [(keras_name_of(layer.name), layer.blobs)]
                del layer
                yield ready.pop()

    return WeightSource(
        path=path,
        kind="Caffe model",
        details=[f"{DIALECT_NAMES[dialect]} format", f"{count} layers, {len(layers)} with weights"],
        column="Caffe",
        layers=layers,
        names={keras: caffe for caffe, keras in plan.CAFFE_TO_KERAS.items()},
        arrays=arrays,
    )
