"""A full-size Sports-1M C3D weights file with seeded random weights (tests and bench).

Glorot-initialised weights give nearly constant softmax outputs, so kernels are drawn
He-normal (scale sqrt(2 / fan_in)) and biases small: features and classes then depend
visibly on the input, as with trained weights. Works on any Keras backend.
"""

import numpy as np


def write_random_weights(path, seed=1234):
    """Write the weights to ``path`` (a ``.weights.h5``); returns ``path``."""
    from c3d.sport1m_model import C3D_model

    model = C3D_model()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            fan_in = int(np.prod(kernel.shape[:-1]))
            kernel = rng.standard_normal(kernel.shape, np.float32) * np.sqrt(2.0 / fan_in)
            bias = rng.uniform(-0.05, 0.05, bias.shape).astype(np.float32)
            layer.set_weights([kernel, bias])
    model.save_weights(path)
    return path
