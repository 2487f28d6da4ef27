"""The Res3D-18 layer plan (C3D v1.1): every layer's name, size, stride and padding, once.

Res3D-18 is the C3D authors' successor to C3D (Tran et al. 2017, "ConvNet Architecture
Search for Spatiotemporal Feature Learning"), released as C3D v1.1. This table is read
from their net definition (facebookarchive/C3D, ``C3D-v1.1/examples/
c3d_ucf101_feature_extraction/c3d_resnet18_ucf101_feature_extraction.prototxt``), and
the builder (``c3d.model.res3d18``), the weight converter (``converter.res3d18``) and the
test suite's Caffe writer all read it; nothing else lists Res3D-18's layers.

What the prototxt says, and what this table keeps of it:

* every ``Convolution3D`` has no bias and is followed by ``BatchNorm`` (mean, variance
  and a scale factor, eps 1e-5) and ``Scale`` (gamma, beta); in Keras the two are one
  ``BatchNormalization`` named after the Caffe ``BatchNorm`` layer;
* Caffe pads symmetrically (``pad``, ``temporal_pad``) and rounds outputs down, so each
  padded convolution is a ``ZeroPadding3D`` and a "valid" one. Keras's "same" pads a
  stride-2 convolution of an even size on the right only: another network;
* ``res2a`` has a 1x1x1 projection shortcut (``res2a_branch1``) although its shapes
  match; the ``b`` blocks add their input unchanged;
* ``pool5`` is a 1x7x7 average (stride 1) of res5b's 1x7x7 output: 512 values, and
  ``fc8`` reads those 512.

Pure arithmetic, no Keras: importing it loads no backend.
"""

import dataclasses
import math

# The clip Res3D-18 was trained on: 8 frames of 112x112 crops, taken every 2nd frame of
# the video (``new_length: 8``, ``sampling_rate: 2``), BGR, minus 128 on every channel
# (``mean_value: 128``), from frames resized to 128x171 (``new_height``/``new_width``).
CLIP_SHAPE = (8, 112, 112)
INPUT_SHAPE = (*CLIP_SHAPE, 3)
FRAME_STEP = 2  # a clip spans FRAME_STEP * 8 = 16 video frames, as C3D's does
MEAN_VALUE = 128.0
NUM_CLASSES = 487  # Sports-1M
BN_EPSILON = 1e-5  # Caffe BatchNormParameter.eps's default; the prototxt sets none
FEATURES = 512  # pool5's size


@dataclasses.dataclass(frozen=True)
class ConvBN:
    """A ``Convolution3D`` (no bias) + ``BatchNorm`` + ``Scale``, as the prototxt has them."""

    name: str  # the convolution's name in the prototxt, and the Keras layer's
    filters: int
    kernel: tuple  # (kernel_depth, kernel_size, kernel_size)
    strides: tuple  # (temporal_stride, stride, stride)
    padding: tuple  # (temporal_pad, pad, pad): on both sides
    bn: str  # the Caffe BatchNorm layer; the Keras BatchNormalization's name
    scale: str  # the Caffe Scale layer (gamma, beta), folded into ``bn`` in Keras

    @property
    def relu(self):
        return f"{self.name}_relu"

    @property
    def pad_name(self):
        return f"{self.name}_pad"


@dataclasses.dataclass(frozen=True)
class Block:
    """A residual block: branch2a -> ReLU -> branch2b, plus the shortcut, then ReLU."""

    name: str  # the Eltwise sum's name ("res2a"); its ReLU is "res2a_relu"
    branch2a: ConvBN
    branch2b: ConvBN
    branch1: ConvBN | None  # the projection shortcut; None: the block's input itself

    @property
    def relu(self):
        return f"{self.name}_relu"

    @property
    def convs(self):
        return tuple(c for c in (self.branch1, self.branch2a, self.branch2b) if c is not None)


def _conv(name, filters, kernel, strides, bn, scale):
    return ConvBN(name, filters, kernel, strides, tuple(k // 2 for k in kernel), bn, scale)


def _block(stage, letter, filters, stride, projection):
    name = f"res{stage}{letter}"
    suffix = f"{stage}{letter}"
    strides = (stride,) * 3

    def conv(branch, kernel, conv_strides):
        return _conv(
            f"{name}_{branch}",
            filters,
            kernel,
            conv_strides,
            f"bn{suffix}_{branch}",
            f"scale{suffix}_{branch}",
        )

    shortcut = conv("branch1", (1, 1, 1), strides) if projection else None
    return Block(
        name, conv("branch2a", (3, 3, 3), strides), conv("branch2b", (3, 3, 3), (1, 1, 1)), shortcut
    )


# conv1: 3x7x7, stride (1, 2, 2), pad (1, 3, 3): 8x112x112 -> 8x56x56.
CONV1 = _conv("conv1", 64, (3, 7, 7), (1, 2, 2), "bn_conv1", "scale_conv1")
# (stage, filters, stride of its first block): res2 keeps the size, res3-res5 halve all
# three dimensions: 8x56x56 -> 4x28x28 -> 2x14x14 -> 1x7x7.
STAGES = ((2, 64, 1), (3, 128, 2), (4, 256, 2), (5, 512, 2))
BLOCKS = tuple(
    block
    for stage, filters, stride in STAGES
    for block in (
        _block(stage, "a", filters, stride, projection=True),  # res2a's too (the prototxt's)
        _block(stage, "b", filters, 1, projection=False),
    )
)
CONVS = (CONV1, *(conv for block in BLOCKS for conv in block.convs))
POOL5 = (1, 7, 7)  # average, stride 1
POOL5_NAME = "pool5"
FLATTEN = "flatten"
CLASSIFIER = "fc8"
LAST_BLOCK = BLOCKS[-1].name  # res5b

WEIGHTED_LAYERS = (*(conv.name for conv in CONVS), *(conv.bn for conv in CONVS), CLASSIFIER)
# Caffe layer with weights -> (Keras layer, what its blobs are)
CONV, BATCH_NORM, SCALE, DENSE = "conv", "batch_norm", "scale", "dense"
CAFFE_LAYERS = {
    **{conv.name: (conv.name, CONV) for conv in CONVS},
    **{conv.bn: (conv.bn, BATCH_NORM) for conv in CONVS},
    **{conv.scale: (conv.bn, SCALE) for conv in CONVS},
    CLASSIFIER: (CLASSIFIER, DENSE),
}
CAFFE_BLOB_COUNTS = {CONV: 1, BATCH_NORM: 3, SCALE: 2, DENSE: 2}

# The prototxt's ReLUs work in place: the blob named "res5b" (or "conv1") holds the values
# after the ReLU. A name here gives the layer whose output is that blob.
BLOBS = {CONV1.name: CONV1.relu, **{block.name: block.relu for block in BLOCKS}}
# --layer name -> the model layer whose output it is: pool5 as 512 values.
FEATURE_LAYERS = {"pool5": FLATTEN}


def conv_output(size, kernel, stride, pad):
    """Caffe's convolution output length: floor((size + 2 pad - kernel) / stride) + 1."""
    return (size + 2 * pad - kernel) // stride + 1


def res5b_shape(input_shape=INPUT_SHAPE):
    """(D, H, W) of res5b's output for a model input of (D, H, W, C): (1, 7, 7) for 8x112x112."""
    dims = tuple(input_shape[:3])
    for conv in (CONV1, *(block.branch2a for block in BLOCKS)):
        dims = tuple(
            conv_output(s, k, st, p)
            for s, k, st, p in zip(dims, conv.kernel, conv.strides, conv.padding, strict=True)
        )
    return dims


def pool5_shape(input_shape=INPUT_SHAPE):
    """(D, H, W, C) of pool5's output: (1, 1, 1, 512) for the 8x112x112 clip."""
    dims = tuple(s - p + 1 for s, p in zip(res5b_shape(input_shape), POOL5, strict=True))
    return (*dims, FEATURES)


def check_input_shape(input_shape, include_top=False):
    """(frames, height, width, 3) as ints, or ValueError naming what was received.

    pool5's 1x7x7 window needs res5b to be at least 1x7x7 (input at least 1x97x97 — 97
    halves to 7 through conv1 and the three stride-2 stages); with the top, fc8 reads 512
    values, so pool5 must be 1x1x1 (res5b exactly 1x7x7, as from 8x112x112).
    """
    from c3d.model.plan import parse_input_shape

    shape = parse_input_shape(input_shape)
    pooled = pool5_shape(shape)[:3]
    if min(pooled) < 1:
        raise ValueError(
            f"input_shape is too small for Res3D-18: res5b would be "
            f"{'x'.join(map(str, res5b_shape(shape)))}, pool5 needs at least 1x7x7. "
            f"Received: input_shape={shape}"
        )
    if include_top and pooled != (1, 1, 1):
        raise ValueError(
            "include_top=True needs an input whose pool5 is 512 values (res5b 1x7x7, e.g. "
            f"{INPUT_SHAPE}); this one gives pool5 {'x'.join(map(str, pooled))}x512. "
            f"Received: input_shape={shape}"
        )
    return shape


def weight_shapes(num_classes=NUM_CLASSES, layout="caffe"):
    """{Caffe layer: [blob shapes]} in Caffe layout, or {Keras layer: [weight shapes]}.

    Caffe: conv (out, in, d, h, w); BatchNorm (C,), (C,), (1,); Scale (C,), (C,); fc8
    (out, 512). Keras: conv (d, h, w, in, out); BatchNormalization (C,) x 4 (gamma, beta,
    moving mean, moving variance); fc8 (512, out), (out,).
    """
    if layout not in ("keras", "caffe"):
        raise ValueError(f"layout must be 'keras' or 'caffe'. Received: layout={layout!r}")
    channels = {CONV1.name: 3}
    for block in BLOCKS:
        inputs = _block_input(block)
        channels[block.branch2a.name] = inputs
        channels[block.branch2b.name] = block.branch2a.filters
        if block.branch1 is not None:
            channels[block.branch1.name] = inputs
    shapes = {}
    for conv in CONVS:
        cin, cout = channels[conv.name], conv.filters
        if layout == "caffe":
            shapes[conv.name] = [(cout, cin, *conv.kernel)]
            shapes[conv.bn] = [(cout,), (cout,), (1,)]
            shapes[conv.scale] = [(cout,), (cout,)]
        else:
            shapes[conv.name] = [(*conv.kernel, cin, cout)]
            shapes[conv.bn] = [(cout,)] * 4
    if layout == "caffe":
        shapes[CLASSIFIER] = [(num_classes, FEATURES), (num_classes,)]
    else:
        shapes[CLASSIFIER] = [(FEATURES, num_classes), (num_classes,)]
    return shapes


def _block_input(block):
    index = BLOCKS.index(block)
    return CONV1.filters if index == 0 else BLOCKS[index - 1].branch2b.filters


def parameter_count(num_classes=NUM_CLASSES):
    """Weights of the Keras model (BatchNorm statistics included): ~33.2 M with fc8."""
    return sum(
        math.prod(shape)
        for shapes in weight_shapes(num_classes, "keras").values()
        for shape in shapes
    )
