"""C3D-BN: C3D with BatchNormalization after every convolution and no dropout.

The route of the PyTorch ports for training from scratch: BN lets larger learning
rates work, and makes dropout unnecessary in the head.
"""

import keras

from c3d.architecture import CONV_LAYERS, FC_UNITS, POOLS, check_input_shape, pool5_layers

# BatchNorm statistics move as in PyTorch (its momentum 0.1 is Keras's 0.9), the C3D-BN
# ports' setting: with Keras's default 0.99 the inference statistics need ~10x more steps
# to settle, and validation scores a short run with statistics of the untrained network.
BN_MOMENTUM = 0.9


def C3D_BN(num_classes=8, input_shape=(16, 112, 112, 3), weights=None, bn_momentum=BN_MOMENTUM):
    """Build C3D-BN: Conv3D -> BatchNorm -> ReLU per conv; fc6, fc7 ReLU; fc8 softmax."""
    input_shape = check_input_shape(input_shape)
    model = keras.Sequential(name="c3d_bn")
    model.add(keras.Input(shape=input_shape, name="clip"))
    for name, filters in CONV_LAYERS:
        # No conv bias: the BatchNormalization that follows has its own offset (beta).
        model.add(keras.layers.Conv3D(filters, 3, padding="same", use_bias=False, name=name))
        model.add(keras.layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn"))
        model.add(keras.layers.Activation("relu", name=f"{name}_relu"))
        if name in POOLS:
            pool_name, size = POOLS[name]
            model.add(keras.layers.MaxPooling3D(size, strides=size, name=pool_name))
    for layer in pool5_layers(input_shape):
        model.add(layer)
    model.add(keras.layers.Flatten(name="flatten"))
    model.add(keras.layers.Dense(FC_UNITS, activation="relu", name="fc6"))
    model.add(keras.layers.Dense(FC_UNITS, activation="relu", name="fc7"))
    model.add(keras.layers.Dense(num_classes, activation="softmax", name="fc8"))
    if weights is not None:
        from c3d.weights_io import assign_weights, read_weight_file

        assign_weights(model, read_weight_file(weights), source=weights)
    return model
