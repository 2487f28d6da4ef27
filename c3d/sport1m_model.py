"""C3D as trained on Sports-1M (Tran et al., ICCV 2015), as a channels-last Keras 3 model.

In the style of ``keras.applications``: one builder (``C3D_model``), ``weights=``,
``include_top=``, and ``preprocess_input``. Only Keras 3 APIs are used, so the model
runs on the TensorFlow, JAX and torch backends.
"""

import keras

from c3d.architecture import (
    CONV_LAYERS,
    FC_UNITS,
    POOLS,
    check_input_shape,
    pool5_layers,
)
from c3d.preprocessing import preprocess_input  # noqa: F401  (public API of this module)
from c3d.weights_io import assign_weights, read_weight_file

NUM_CLASSES = 487
INPUT_SHAPE = (16, 112, 112, 3)
FEATURE_LAYERS = ("fc6", "fc7", "pool5")


def C3D_model(weights=None, include_top=True, num_classes=NUM_CLASSES, input_shape=INPUT_SHAPE):
    """Build the Sports-1M C3D as a Keras ``Sequential`` (channels-last).

    Args:
        weights: None (random init) or a path to a Keras 3 ``.weights.h5`` or a legacy
            Keras 2 ``.h5`` weights file with the layer names of this model.
        include_top: False ends the model at ``flatten`` (pool5 features).
        num_classes: size of fc8. With ``weights`` and a class count other than the
            file's, fc8 is left freshly initialised (fine-tuning); all else is loaded.
        input_shape: (frames, height, width, 3); fc6 is sized to match.
    """
    # Layers about to be loaded skip the random draw: ~1 s for 80 M parameters on a CPU.
    # fc8 is drawn anyway, as it stays initialised when the file's class count differs.
    model = c3d_sequential(include_top, num_classes, input_shape, initialized=weights is None)
    if weights is not None:
        assign_weights(model, read_weight_file(weights), source=weights, optional=("fc8",))
    return model


def c3d_sequential(
    include_top=True,
    num_classes=NUM_CLASSES,
    input_shape=INPUT_SHAPE,
    initialized=True,
    initialize_top=True,
):
    """The C3D architecture with fresh weights (random kernels, zero biases).

    ``initialized=False`` fills conv1…fc7 kernels with zeros instead of random values,
    for callers about to set them all (weight loading, the Caffe converter);
    ``initialize_top=False`` does the same for fc8.
    """
    input_shape = check_input_shape(input_shape)
    kernels = "glorot_uniform" if initialized else "zeros"
    model = keras.Sequential(name="c3d")
    model.add(keras.Input(shape=input_shape, name="clip"))
    for name, filters in CONV_LAYERS:
        model.add(
            keras.layers.Conv3D(
                filters,
                3,
                padding="same",
                activation="relu",
                name=name,
                kernel_initializer=kernels,
            )
        )
        if name in POOLS:
            pool_name, size = POOLS[name]
            model.add(keras.layers.MaxPooling3D(size, strides=size, name=pool_name))
    for layer in pool5_layers(input_shape):
        model.add(layer)
    model.add(keras.layers.Flatten(name="flatten"))
    if include_top:
        for fc, dropout in (("fc6", "dropout6"), ("fc7", "dropout7")):
            model.add(
                keras.layers.Dense(FC_UNITS, activation="relu", name=fc, kernel_initializer=kernels)
            )
            model.add(keras.layers.Dropout(0.5, name=dropout))
        top = "glorot_uniform" if initialize_top else "zeros"
        model.add(
            keras.layers.Dense(
                num_classes, activation="softmax", name="fc8", kernel_initializer=top
            )
        )
    # The zeros were a one-off: the config (clone_model, to_json, a saved .keras model)
    # names the usual initialiser, so a model rebuilt from it trains like C3D_model().
    for layer in model.layers:
        if hasattr(layer, "kernel_initializer"):
            layer.kernel_initializer = keras.initializers.get("glorot_uniform")
    return model


def create_features_extractor(model, layer="fc6"):
    """A ``keras.Model`` from the clip input to ``layer``'s output (fc6/fc7 are post-ReLU)."""
    names = [lay.name for lay in model.layers]
    if layer not in names:
        raise ValueError(f"model has no layer {layer!r}; layers are: {', '.join(names)}")
    # inputs[0], not inputs: a single-tensor input, so callers may pass a bare array.
    return keras.Model(model.inputs[0], model.get_layer(layer).output, name=f"c3d_{layer}")


# The spelling used by earlier Keras ports of C3D, kept so their scripts keep working.
create_features_exctractor = create_features_extractor
