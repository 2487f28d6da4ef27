"""The C3D layer plan shared by the Sports-1M model and C3D-BN."""

import math

# (layer name, filters) for each Conv3D; a pool follows the layers named in POOLS.
CONV_LAYERS = (
    ("conv1", 64),
    ("conv2", 128),
    ("conv3a", 256),
    ("conv3b", 256),
    ("conv4a", 512),
    ("conv4b", 512),
    ("conv5a", 512),
    ("conv5b", 512),
)
# pool after conv layer -> (pool name, pool size = strides). pool1 keeps time (1,2,2).
POOLS = {
    "conv1": ("pool1", (1, 2, 2)),
    "conv2": ("pool2", (2, 2, 2)),
    "conv3b": ("pool3", (2, 2, 2)),
    "conv4b": ("pool4", (2, 2, 2)),
}
POOL5 = (2, 2, 2)
FC_UNITS = 4096


def _caffe_ceil_pool_size(size, pool):
    """Output length of a Caffe pool (ceil mode, stride = kernel, no padding)."""
    return math.ceil(max(size - pool, 0) / pool) + 1


def pool5_padding(conv5_shape):
    """Zero padding that makes a 'valid' max pool reproduce Caffe's ceil-mode pool5.

    Padding with zeros is exact because conv5b's output is post-ReLU (>= 0). For the
    standard 2x7x7 input this is ((0,0),(0,1),(0,1)), the original zeropad5.
    """
    padding = []
    for size, pool in zip(conv5_shape, POOL5, strict=True):
        out = _caffe_ceil_pool_size(size, pool)
        padding.append((0, (out - 1) * pool + pool - size))
    return tuple(padding)


def conv5_shape(input_shape):
    """(D, H, W) entering zeropad5 for a model input of (D, H, W, C)."""
    depth, height, width = input_shape[:3]
    for _, size in POOLS.values():
        depth, height, width = depth // size[0], height // size[1], width // size[2]
    if min(depth, height, width) < 1:
        raise ValueError(f"input_shape {tuple(input_shape)} is too small for C3D's four pools")
    return depth, height, width


def pool5_layers(input_shape):
    """zeropad5 + pool5, sized for this input shape."""
    import keras  # here, so shape arithmetic above works without loading a backend

    return [
        keras.layers.ZeroPadding3D(pool5_padding(conv5_shape(input_shape)), name="zeropad5"),
        keras.layers.MaxPooling3D(POOL5, strides=POOL5, name="pool5"),
    ]


def check_input_shape(input_shape):
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 4 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (frames, height, width, 3), got {input_shape}")
    conv5_shape(input_shape)
    return input_shape
