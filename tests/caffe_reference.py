"""An independent forward pass of the Sports-1M C3D in Caffe's own semantics, in numpy.

Written from the C3D authors' net definition (conv3d_deepnetA_sport1m), not from the
project's Keras code, so that comparing the two tests the conversion:

* blobs are channels-first, (N, C, D, H, W), as in Caffe;
* weights are used as Caffe stores them: conv (out, in, d, h, w), dense (out, in);
* a convolution (3x3x3, pad 1, stride 1) is the sum over the 27 kernel offsets of a
  tensordot over the input channels (no im2col matrix);
* max pooling is Caffe's: output size ceil((size - kernel) / stride) + 1, the last
  window cut at the edge (this is what makes pool5 give 4x4 from 7x7);
* a dense layer flattens its input in (C, D, H, W) order.
"""

import itertools

import numpy as np

# (operation, argument) in the order of the authors' prototxt. ReLUs are in place there,
# so the blob of a conv/fc layer holds its post-ReLU values, which is what is returned.
C3D_NET = (
    ("conv", "conv1a"),
    ("pool", ((1, 2, 2), (1, 2, 2))),  # pool1 keeps time: kernel_depth 1
    ("conv", "conv2a"),
    ("pool", ((2, 2, 2), (2, 2, 2))),
    ("conv", "conv3a"),
    ("conv", "conv3b"),
    ("pool", ((2, 2, 2), (2, 2, 2))),
    ("conv", "conv4a"),
    ("conv", "conv4b"),
    ("pool", ((2, 2, 2), (2, 2, 2))),
    ("conv", "conv5a"),
    ("conv", "conv5b"),
    ("pool5", ((2, 2, 2), (2, 2, 2))),
    ("fc", "fc6-1"),
    ("fc", "fc7-1"),
    ("logits", "fc8-1"),
)
CONV_PAD = 1


def conv3d(x, weight, bias, pad=CONV_PAD):
    """Caffe's 3-D convolution: x (N, C, D, H, W), weight (O, C, kd, kh, kw), stride 1."""
    out_channels, _, kd, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (0, 0)) + ((pad, pad),) * 3)
    depth, height, width = (padded.shape[2 + i] - k + 1 for i, k in enumerate((kd, kh, kw)))
    out = np.zeros((out_channels, x.shape[0], depth, height, width), np.float32)
    for a, b, c in itertools.product(range(kd), range(kh), range(kw)):
        window = padded[:, :, a : a + depth, b : b + height, c : c + width]
        out += np.tensordot(weight[:, :, a, b, c], window, axes=([1], [1]))
    return out.transpose(1, 0, 2, 3, 4) + bias.reshape(1, -1, 1, 1, 1)


def max_pool_ceil(x, kernel, stride):
    """Caffe's max pooling (no padding), ceil mode, over the last three axes."""
    sizes = x.shape[2:]
    outs = [-(-(n - k) // s) + 1 for n, k, s in zip(sizes, kernel, stride, strict=True)]
    covered = [(o - 1) * s + k for o, k, s in zip(outs, kernel, stride, strict=True)]
    padding = [(0, max(0, c - n)) for c, n in zip(covered, sizes, strict=True)]
    padded = np.pad(x, ((0, 0), (0, 0), *padding), constant_values=-np.inf)
    result = np.full(x.shape[:2] + tuple(outs), -np.inf, np.float32)
    for offsets in itertools.product(*(range(k) for k in kernel)):
        window = tuple(
            slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(offsets, stride, outs, strict=True)
        )
        result = np.maximum(result, padded[(slice(None), slice(None), *window)])
    return result


def dense(x, weight, bias):
    """Caffe's InnerProduct: flattens (C, D, H, W) in that order, y = W x + b."""
    return x.reshape(x.shape[0], -1) @ weight.T + bias


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def forward(weights, clips, start="conv1a", inputs=None):
    """Run C3D on ``clips`` (N, C, D, H, W) with Caffe-layout ``weights``.

    ``weights``: {Caffe layer name: [weights, bias]}, conv (out, in, 3, 3, 3), dense
    (out, in), bias (out,). Returns {"pool5", "fc6", "fc7", "logits", "prob"}.
    ``start``/``inputs`` resume from a saved blob (e.g. start="fc8-1" with fc7).
    """
    blobs = {}
    x = np.asarray(clips if inputs is None else inputs, np.float32)
    names = [arg if isinstance(arg, str) else None for _, arg in C3D_NET]
    for op, arg in C3D_NET[names.index(start) :]:
        if op == "conv":
            x = np.maximum(conv3d(x, *weights[arg]), 0)
        elif op in ("pool", "pool5"):
            x = max_pool_ceil(x, *arg)
            if op == "pool5":
                blobs["pool5"] = x
        elif op == "fc":
            x = np.maximum(dense(x, *weights[arg]), 0)
            blobs[arg.split("-")[0]] = x
        else:
            blobs["logits"] = dense(x, *weights[arg])
            blobs["prob"] = softmax(blobs["logits"])
    return blobs


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|: one number for a whole output."""
    expected = np.asarray(expected, np.float64)
    return float(
        np.max(np.abs(np.asarray(actual, np.float64) - expected)) / np.max(np.abs(expected))
    )
