"""An independent forward pass of Res3D-18 (C3D v1.1) in Caffe's own semantics, in PyTorch.

Written from the authors' net definition (facebookarchive/C3D, C3D-v1.1/examples/
c3d_ucf101_feature_extraction/c3d_resnet18_ucf101_feature_extraction.prototxt) and the
fork's layer sources, not from the project's Keras code or layer plan, so that comparing
the two tests the builder and the converter:

* blobs are channels-first (N, C, D, H, W), weights as Caffe stores them: conv
  (out, in, d, h, w) without bias, fc8 (out, 512);
* ``Convolution3D`` pads ``temporal_pad`` / ``pad`` on both sides and its output is
  floor((size + 2 pad - kernel) / stride) + 1 (``convolution3d_layer.cpp``);
* ``BatchNorm`` with global statistics: mean / sf and variance / sf, sf the third blob
  (1 / sf taken as 0 when sf is 0), y = (x - mean) / sqrt(var + eps), eps 1e-5;
  ``Scale``: y * gamma + beta;
* ``Eltwise`` sums, ReLUs are in place; ``pool5`` averages 1x7x7 windows at stride 1
  (``pool3d_layer.cpp``, no padding); ``fc8`` flattens (C, D, H, W) in that order.

The knobs (``eps``, ``divide_by_scale_factor``, ``same_padding``) exist for the tests'
negative controls: each rule broken on the same weights must change the outputs.
"""

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-5
# Caffe computes in float32. float64 took 3.5x as long here (7 s against 2 s for two
# full-size clips on 2 cores) for a tolerance of 1e-4 that float32 meets 50x over.
DTYPE = torch.float32

# The prototxt, layer by layer: (name, num_output, (kernel_depth, kernel_size),
# (temporal_stride, stride), (temporal_pad, pad)), then the blocks.
CONV1 = ("conv1", 64, (3, 7), (1, 2), (1, 3))
# (block, num_output, stride of branch1/branch2a, has a branch1 projection)
BLOCKS = (
    ("res2a", 64, 1, True),
    ("res2b", 64, 1, False),
    ("res3a", 128, 2, True),
    ("res3b", 128, 1, False),
    ("res4a", 256, 2, True),
    ("res4b", 256, 1, False),
    ("res5a", 512, 2, True),
    ("res5b", 512, 1, False),
)


def bn_names(conv):
    """The BatchNorm and Scale layers after a convolution, as the prototxt names them."""
    if conv == "conv1":
        return "bn_conv1", "scale_conv1"
    suffix = conv[3:]  # "res2a_branch2a" -> "2a_branch2a"
    return f"bn{suffix}", f"scale{suffix}"


def conv_specs():
    """Every convolution: (name, in, out, (kd, kh, kw), (sd, sh, sw), (pd, ph, pw))."""
    name, out, (kd, k), (ts, s), (tp, p) = CONV1
    specs = [(name, 3, out, (kd, k, k), (ts, s, s), (tp, p, p))]
    channels = out
    for block, out, stride, projection in BLOCKS:
        strides = (stride,) * 3
        if projection:
            specs.append((f"{block}_branch1", channels, out, (1, 1, 1), strides, (0, 0, 0)))
        specs.append((f"{block}_branch2a", channels, out, (3, 3, 3), strides, (1, 1, 1)))
        specs.append((f"{block}_branch2b", out, out, (3, 3, 3), (1, 1, 1), (1, 1, 1)))
        channels = out
    return specs


def _same_pads(size, kernel, stride):
    """TensorFlow/Keras "same": total padding split with the extra one on the right."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Rules:
    """How the reference computes; the defaults are Caffe's (the prototxt's)."""

    def __init__(self, eps=EPS, divide_by_scale_factor=True, same_padding=False):
        self.eps = eps
        self.divide_by_scale_factor = divide_by_scale_factor
        self.same_padding = same_padding


def conv3d(x, weight, stride, pad, rules):
    if rules.same_padding:
        pads = []
        for axis in (2, 1, 0):  # F.pad lists the last axis first
            pads += _same_pads(x.shape[2 + axis], weight.shape[2 + axis], stride[axis])
        return F.conv3d(F.pad(x, pads), weight, stride=stride)
    return F.conv3d(x, weight, stride=stride, padding=pad)


def batch_norm(x, blobs, rules):
    mean, variance, factor = (torch.as_tensor(b, dtype=DTYPE) for b in blobs)
    if rules.divide_by_scale_factor:
        scale = 0.0 if float(factor.reshape(-1)[0]) == 0 else 1.0 / float(factor.reshape(-1)[0])
        mean, variance = mean * scale, variance * scale
    shape = (1, -1, 1, 1, 1)
    return (x - mean.reshape(shape)) / torch.sqrt(variance.reshape(shape) + rules.eps)


def scale(x, blobs):
    gamma, beta = (torch.as_tensor(b, dtype=DTYPE).reshape(1, -1, 1, 1, 1) for b in blobs)
    return x * gamma + beta


def forward(weights, clips, rules=None, calibrate=None):
    """Run Res3D-18 on ``clips`` (N, C, D, H, W) in float32, with Caffe-layout ``weights``.

    ``weights``: {Caffe layer: [blobs]}. Returns {"res5b", "pool5", "logits", "prob"}
    as numpy arrays (pool5 flattened to (N, 512)).

    ``calibrate``: a function (name, activations) -> (mean, variance, factor) called for
    each BatchNorm before it is applied, whose blobs are stored into ``weights``: how
    the tests' fixture gets statistics of the size a trained net's have.
    """
    rules = rules or Rules()
    x = torch.as_tensor(np.asarray(clips), dtype=DTYPE)
    specs = {spec[0]: spec for spec in conv_specs()}

    def conv_bn(x, name, relu):
        _, _, _, _, stride, pad = specs[name]
        weight = torch.as_tensor(weights[name][0], dtype=DTYPE)
        y = conv3d(x, weight, stride, pad, rules)
        bn, sc = bn_names(name)
        if calibrate is not None:
            weights[bn] = list(calibrate(bn, y.numpy()))
        y = scale(batch_norm(y, weights[bn], rules), weights[sc])
        return torch.relu(y) if relu else y

    with torch.no_grad():
        x = conv_bn(x, "conv1", relu=True)
        for block, _, _, projection in BLOCKS:
            shortcut = conv_bn(x, f"{block}_branch1", relu=False) if projection else x
            branch = conv_bn(x, f"{block}_branch2a", relu=True)
            branch = conv_bn(branch, f"{block}_branch2b", relu=False)
            x = torch.relu(shortcut + branch)
        res5b = x
        pool5 = F.avg_pool3d(x, (1, 7, 7), stride=1)
        flat = pool5.reshape(pool5.shape[0], -1)
        outputs = {"res5b": res5b.numpy(), "pool5": flat.numpy()}
        if "fc8" in weights:
            weight, bias = (torch.as_tensor(b, dtype=DTYPE) for b in weights["fc8"])
            logits = flat @ weight.T + bias
            outputs["logits"] = logits.numpy()
            outputs["prob"] = torch.softmax(logits, dim=1).numpy()
    return outputs


def random_weights(num_classes=487, seed=0, calibration_clips=None):
    """{Caffe layer: [blobs]} of a full-size Res3D-18 with realistic BatchNorm statistics.

    Conv kernels are He-normal; a few output channels of each convolution are scaled
    down 30x so that their variance is small (~1e-3 of the others) and eps counts.
    BatchNorm statistics are measured on ``calibration_clips`` as training would, then
    stored as Caffe stores them: summed with a scale factor sf (here 500-1500, another
    for each layer), mean * sf and variance * sf, so a reader that does not divide by
    sf is off by that factor. Scale's gamma in [0.5, 1.5], beta in [-0.2, 0.2].
    """
    rng = np.random.default_rng(seed)
    weights = {}
    for name, cin, cout, kernel, _, _ in conv_specs():
        shape = (cout, cin, *kernel)
        w = rng.standard_normal(shape).astype(np.float32) * np.float32(
            np.sqrt(2.0 / (cin * np.prod(kernel)))
        )
        quiet = rng.choice(cout, size=max(1, cout // 16), replace=False)
        w[quiet] /= 30
        weights[name] = [w]
        _, sc = bn_names(name)
        weights[sc] = [
            rng.uniform(0.5, 1.5, cout).astype(np.float32),
            rng.uniform(-0.2, 0.2, cout).astype(np.float32),
        ]
    weights["fc8"] = [
        (rng.standard_normal((num_classes, 512)) * 0.05).astype(np.float32),
        rng.uniform(-0.1, 0.1, num_classes).astype(np.float32),
    ]

    def calibrate(_, activations):
        mean = activations.mean(axis=(0, 2, 3, 4))
        variance = activations.var(axis=(0, 2, 3, 4))
        jitter = rng.uniform(0.9, 1.1, mean.shape)
        factor = np.float32(rng.uniform(500, 1500))
        return [
            (mean * factor).astype(np.float32),
            (variance * jitter * factor).astype(np.float32),
            np.array([factor], np.float32),
        ]

    if calibration_clips is None:
        calibration_clips = rng.uniform(-100, 100, (2, 3, 8, 112, 112)).astype(np.float32)
    forward(weights, calibration_clips, calibrate=calibrate)
    return weights


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|: one number for a whole output."""
    expected = np.asarray(expected, np.float64)
    return float(
        np.max(np.abs(np.asarray(actual, np.float64) - expected)) / np.max(np.abs(expected))
    )
