"""Writing weight files as the earlier Keras 2 ports of C3D have them: the tests' fixtures.

``C3D_Sport1M_weights_keras_2.2.4.h5``, the file most Keras 2 C3D scripts load, is
axon-research/c3d-keras's conversion saved by Keras 2.2.4 from a functional model
(``sport1m_model.create_model_functional``). ``write_keras224_weights`` writes a file
of that structure with h5py, following Keras 2.2.4's ``save_weights_to_hdf5_group``:

* root attributes ``layer_names`` (every layer of ``model.layers``, the input layer and
  the weightless ones included, as a numpy array of UTF-8 bytes), ``backend`` and
  ``keras_version`` (bytes);
* a group per layer, its attribute ``weight_names`` (the TensorFlow variable names,
  ``conv1/kernel:0``, ``conv1/bias:0``), each weight a dataset at ``<layer>/<weight name>``
  (so ``conv1/conv1/kernel:0``: the name's ``/`` makes a sub-group).
"""

import h5py
import numpy as np

# model.layers of the port's create_model_functional(), in order: Keras 2.2.4 named the
# unnamed layers after their class (input_1, flatten_1, dropout_1, dropout_2).
KERAS224_LAYERS = (
    "input_1",
    "conv1",
    "pool1",
    "conv2",
    "pool2",
    "conv3a",
    "conv3b",
    "pool3",
    "conv4a",
    "conv4b",
    "pool4",
    "conv5a",
    "conv5b",
    "zeropad5",
    "pool5",
    "flatten_1",
    "fc6",
    "dropout_1",
    "fc7",
    "dropout_2",
    "fc8",
)
WEIGHT_NAMES = ("kernel:0", "bias:0")


def write_keras224_weights(path, weights, layer_names=KERAS224_LAYERS, keras_version="2.2.4"):
    """Write ``weights`` ({layer: [kernel, bias]}, Keras layout) as Keras 2.2.4 wrote them.

    Layers of ``layer_names`` missing from ``weights`` are written without weights, as
    Keras writes its weightless layers. Returns ``path``.
    """
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([name.encode("utf8") for name in layer_names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = keras_version.encode("utf8")
        for name in layer_names:
            group = f.create_group(name)
            arrays = weights.get(name, [])
            weight_names = [f"{name}/{w}".encode() for w in WEIGHT_NAMES[: len(arrays)]]
            group.attrs["weight_names"] = np.array(weight_names, dtype="S")
            for weight_name, array in zip(weight_names, arrays, strict=True):
                group.create_dataset(weight_name.decode("utf8"), data=np.asarray(array))
    return path
