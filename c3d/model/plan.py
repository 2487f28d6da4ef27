"""The C3D layer plan: every layer's name, size and Caffe name, written once.

The builders (C3D and C3D-BN, ``c3d.model.builder``), the weight converter and the test
suite's Caffe writer all read this table; nothing else lists C3D's layers. Shapes in
both layouts (Keras channels-last, Caffe channels-first) are derived from it here.

Pure arithmetic, no Keras: importing it loads no backend.
"""

import dataclasses
import math

from c3d.errors import C3DError

# The clip C3D was trained on: 16 frames of 112x112 crops, BGR (Tran et al. 2015, sec. 3).
CLIP_SHAPE = (16, 112, 112)
INPUT_SHAPE = (*CLIP_SHAPE, 3)
NUM_CLASSES = 487  # Sports-1M
KERNEL = (3, 3, 3)  # every convolution: 3x3x3, stride 1, "same" padding
POOL5 = (2, 2, 2)  # after conv5b, in Caffe's ceil mode (see pool5_padding)
FC_UNITS = 4096


@dataclasses.dataclass(frozen=True)
class Conv:
    name: str  # Keras layer name
    filters: int
    caffe_name: str  # the layer's name in the authors' prototxt
    pool: str | None = None  # the max pool that follows, if any
    pool_size: tuple = (2, 2, 2)  # = its strides; pool1 keeps time: (1, 2, 2)


@dataclasses.dataclass(frozen=True)
class Dense:
    name: str
    units: int | None  # None: the class count
    caffe_name: str
    dropout: str | None = None  # the dropout layer after it in C3D (not in C3D-BN)


CONVS = (
    Conv("conv1", 64, "conv1a", "pool1", (1, 2, 2)),
    Conv("conv2", 128, "conv2a", "pool2"),
    Conv("conv3a", 256, "conv3a"),
    Conv("conv3b", 256, "conv3b", "pool3"),
    Conv("conv4a", 512, "conv4a"),
    Conv("conv4b", 512, "conv4b", "pool4"),
    Conv("conv5a", 512, "conv5a"),
    Conv("conv5b", 512, "conv5b"),
)
DENSES = (
    Dense("fc6", FC_UNITS, "fc6-1", "dropout6"),
    Dense("fc7", FC_UNITS, "fc7-1", "dropout7"),
    Dense("fc8", None, "fc8-1"),
)
CLASSIFIER = DENSES[-1].name  # fc8: the only layer whose size depends on the task
FIRST_DENSE = DENSES[0].name  # fc6: fed by pool5's flatten, so its rows follow that order
FLATTEN = "flatten"
DROPOUT_RATE = 0.5

WEIGHTED_LAYERS = tuple(layer.name for layer in (*CONVS, *DENSES))
CONV_NAMES = tuple(conv.name for conv in CONVS)
CAFFE_TO_KERAS = {layer.caffe_name: layer.name for layer in (*CONVS, *DENSES)}

# --layer name -> the model layer whose output it is. pool5 is taken flattened (8192
# values), as the original C3D feature extractor wrote it; fc6/fc7 are post-ReLU.
FEATURE_LAYERS = {"fc6": "fc6", "fc7": "fc7", "pool5": FLATTEN}


def check_layer(layer):
    """A ``--layer`` name, or a one-line error listing the choices."""
    if layer not in FEATURE_LAYERS:
        choices = ", ".join(FEATURE_LAYERS)
        raise C3DError(f"unknown feature layer {layer!r} (choose from {choices})")
    return layer


def _caffe_ceil_pool_size(size, pool):
    """Output length of a Caffe pool (ceil mode, stride = kernel, no padding)."""
    return math.ceil(max(size - pool, 0) / pool) + 1


def parse_input_shape(input_shape):
    """(frames, height, width, 3) as ints, or ValueError naming what was received (any
    architecture's first check)."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"input_shape must be (frames, height, width, 3). Received: input_shape={input_shape!r}"
        ) from None
    if len(shape) != 4 or shape[-1] != 3 or min(shape) < 1:
        raise ValueError(
            f"input_shape must be (frames, height, width, 3) of positive sizes. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    return shape


def check_input_shape(input_shape):
    """(frames, height, width, 3) as ints, or ValueError naming what was received."""
    shape = parse_input_shape(input_shape)
    conv5_shape(shape)
    return shape


def conv5_shape(input_shape):
    """(D, H, W) of conv5b's output for a model input of (D, H, W, C)."""
    dims = tuple(input_shape[:3])
    for conv in CONVS:
        if conv.pool:
            dims = tuple(s // p for s, p in zip(dims, conv.pool_size, strict=True))
    depth, height, width = dims
    if min(dims) < 1:
        smallest = tuple(math.prod(c.pool_size[i] for c in CONVS if c.pool) for i in range(3))
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small for C3D's four pools "
            f"(at least {smallest[0]} frames of {smallest[1]}x{smallest[2]})"
        )
    return depth, height, width


def pool5_padding(conv5):
    """Zero padding that makes a 'valid' max pool reproduce Caffe's ceil-mode pool5.

    Padding with zeros is exact because conv5b's output is post-ReLU (>= 0). For the
    standard 2x7x7 input this is ((0,0),(0,1),(0,1)), the original zeropad5.
    """
    padding = []
    for size, pool in zip(conv5, POOL5, strict=True):
        out = _caffe_ceil_pool_size(size, pool)
        padding.append((0, (out - 1) * pool + pool - size))
    return tuple(padding)


def pool5_shape(input_shape=INPUT_SHAPE):
    """(D, H, W, C) of pool5's output, channels-last: (1, 4, 4, 512) for 16x112x112."""
    conv5 = conv5_shape(input_shape)
    dims = tuple(_caffe_ceil_pool_size(s, p) for s, p in zip(conv5, POOL5, strict=True))
    return (*dims, CONVS[-1].filters)


def weight_shapes(num_classes=NUM_CLASSES, input_shape=INPUT_SHAPE, layout="keras"):
    """{layer name: [kernel shape, bias shape]} of C3D, in Keras or Caffe layout.

    Keras: conv (d, h, w, in, out), dense (in, out). Caffe: conv (out, in, d, h, w),
    dense (out, in). Layer names are Keras' in both; ``CAFFE_TO_KERAS`` maps Caffe's.
    """
    if layout not in ("keras", "caffe"):
        raise ValueError(f"layout must be 'keras' or 'caffe'. Received: layout={layout!r}")
    shapes, channels = {}, input_shape[-1]
    for conv in CONVS:
        if layout == "keras":
            kernel = (*KERNEL, channels, conv.filters)
        else:
            kernel = (conv.filters, channels, *KERNEL)
        shapes[conv.name] = [kernel, (conv.filters,)]
        channels = conv.filters
    inputs = math.prod(pool5_shape(input_shape))
    for dense in DENSES:
        units = num_classes if dense.units is None else dense.units
        kernel = (inputs, units) if layout == "keras" else (units, inputs)
        shapes[dense.name] = [kernel, (units,)]
        inputs = units
    return shapes
