"""Writing Caffe files from numpy arrays, in either dialect: the tests' and the bench's fixtures.

``write_random_c3d_caffemodel`` writes a full-size C3D with the authors' layer names
and seeded random weights; ``write_caffemodel`` writes any list of layers (nets of
another architecture for negative tests); ``write_mean_binaryproto`` writes a mean.
Blobs take ``dims=`` to declare a shape that does not match their values (broken files).
"""

import numpy as np

from c3d.atomic import atomic_output
from c3d.model import plan
from converter.caffe.model import C3D_FORK, UPSTREAM, CaffeLayer
from converter.caffe.schema import caffe_messages

DIALECTS = (C3D_FORK, UPSTREAM)
C3D_FORK_BLOB_RANK = 5

# Upstream Caffe's V1LayerParameter.LayerType numbers. The C3D fork has 3-D types of its
# own (with numbers of its own); the reader never looks at them, so these stand in.
V1_LAYER_TYPES = {
    "Convolution": 4,
    "Data": 5,
    "Dropout": 6,
    "InnerProduct": 14,
    "Pooling": 17,
    "ReLU": 18,
    "Softmax": 20,
}


def _caffe_plan():
    """The Sports-1M C3D as the authors' prototxt lists it: (name, type), from the layer plan.

    Weightless layers are included (ReLU after each layer, pools, dropouts, the softmax),
    so that readers must skip them.
    """
    layers = [("data", "Data")]
    for conv in plan.CONVS:
        layers += [(conv.caffe_name, "Convolution"), ("relu" + conv.caffe_name[4:], "ReLU")]
        if conv.pool:
            layers.append((conv.pool, "Pooling"))
    layers.append(("pool5", "Pooling"))
    for number, dense in enumerate(plan.DENSES, start=6):
        layers.append((dense.caffe_name, "InnerProduct"))
        if dense.dropout:
            layers += [(f"relu{number}", "ReLU"), (f"drop{number}", "Dropout")]
    layers.append(("prob", "Softmax"))
    return tuple(layers)


C3D_CAFFE_PLAN = _caffe_plan()


def blob_message(array, dialect, dims=None):
    """A blob message holding ``array`` (float32) in ``dialect``'s layout.

    In the C3D fork the shape is padded to 5-D with leading 1s, as the fork stores
    biases (1, 1, 1, 1, out) and dense weights (1, 1, 1, out, in). ``dims`` declares
    another shape than the array's (to write inconsistent files).
    """
    messages = caffe_messages()
    array = np.asarray(array, dtype="<f4")
    dims = tuple(array.shape if dims is None else dims)
    if dialect == C3D_FORK:
        if len(dims) > C3D_FORK_BLOB_RANK:
            raise ValueError(f"the C3D fork's blobs are at most 5-D, not {dims}")
        num, channels, length, height, width = (1,) * (C3D_FORK_BLOB_RANK - len(dims)) + dims
        blob = messages["C3DBlobProto"](
            num=num, channels=channels, length=length, height=height, width=width
        )
    elif dialect == UPSTREAM:
        blob = messages["BlobProto"]()
        blob.shape.dim.extend(dims)
    else:
        raise ValueError(f"unknown dialect {dialect!r}; use one of {DIALECTS}")
    blob.data.append(array.tobytes())
    return blob


def _layer_message(net, layer, dialect):
    if dialect == C3D_FORK:
        record = net.layers.add(name=layer.name, type=V1_LAYER_TYPES.get(layer.type, 0))
    else:
        record = net.layer.add(name=layer.name, type=layer.type)
    for array in layer.blobs:
        dims = None
        if isinstance(array, tuple):  # (array, declared dims)
            array, dims = array
        record.blobs.append(blob_message(array, dialect, dims))


def write_caffemodel(path, layers, dialect=C3D_FORK, net_name="C3D"):
    """Write ``layers`` (``CaffeLayer``s, blobs in Caffe's logical shapes) as a caffemodel.

    A blob may be given as ``(array, dims)`` to declare a shape other than the array's.
    Each layer is serialised on its own and appended: repeated fields of concatenated
    messages concatenate, so the file is one NetParameter, and memory holds one layer
    at a time.
    """
    NetParameter = caffe_messages()["NetParameter"]
    with atomic_output(path) as tmp_path, open(tmp_path, "wb") as out:
        out.write(NetParameter(name=net_name).SerializeToString())
        for layer in layers:
            net = NetParameter()
            _layer_message(net, layer, dialect)
            out.write(net.SerializeToString())
    return path


def random_c3d_weights(num_classes=487, seed=0):
    """{Caffe layer name: [weights, bias]} of a full-size C3D, in Caffe's logical layout.

    Conv weights (out, in, 3, 3, 3), dense (out, in), biases (out,). He-normal weights
    and biases in ±0.1, so activations neither vanish nor explode through the 8 convs.
    Layers are drawn in order with fc8 last: the same seed gives the same conv1a-fc7-1
    for any ``num_classes``.
    """
    rng = np.random.default_rng(seed)
    weights = {}
    for caffe_name, name in plan.CAFFE_TO_KERAS.items():
        shape, bias_shape = plan.weight_shapes(num_classes, layout="caffe")[name]
        kernel = rng.standard_normal(shape, dtype=np.float32)
        kernel *= np.float32(np.sqrt(2.0 / int(np.prod(shape[1:]))))
        bias = rng.uniform(-0.1, 0.1, bias_shape).astype(np.float32)
        weights[caffe_name] = [kernel, bias]
    return weights


def c3d_layers(weights):
    """The full C3D layer list (weightless layers included) holding ``weights``."""
    return [
        CaffeLayer(name, layer_type, list(weights.get(name, [])))
        for name, layer_type in C3D_CAFFE_PLAN
    ]


def write_random_c3d_caffemodel(path, dialect=C3D_FORK, num_classes=487, seed=0):
    """Write a full-size C3D caffemodel (~320 MB) with seeded random weights.

    Returns the weights written, {Caffe layer name: [weights, bias]} in Caffe's logical
    layout (see ``random_c3d_weights``), for a reference to compute with.
    """
    weights = random_c3d_weights(num_classes, seed)
    write_caffemodel(path, c3d_layers(weights), dialect)
    return weights


def write_mean_binaryproto(path, mean, dialect=C3D_FORK, dims=None):
    """Write a mean cube (C, L, H, W) — or (1, C, L, H, W) — as a Caffe .binaryproto."""
    mean = np.asarray(mean, dtype=np.float32)
    if mean.ndim == 4:
        mean = mean[np.newaxis]
    blob = blob_message(mean, dialect, dims)
    with atomic_output(path) as tmp_path, open(tmp_path, "wb") as out:
        out.write(blob.SerializeToString())
    return path


# ---- Res3D-18 (C3D v1.1) ---------------------------------------------------------------


def res3d18_caffe_plan():
    """Res3D-18's layers as a training snapshot of the C3D v1.1 fork holds them: (name, type).

    From ``res3d18_plan``, in the prototxt's order, with the layers that carry no blobs
    (data, the splits Caffe inserts where a blob feeds two layers, ReLUs, Eltwise sums,
    pool5, the loss), so that readers must skip them.
    """
    from c3d.model import res3d18_plan as r

    def conv_bn(conv, relu):
        layers = [(conv.name, "Convolution3D"), (conv.bn, "BatchNorm"), (conv.scale, "Scale")]
        return layers + ([(conv.relu, "ReLU")] if relu else [])

    layers = [("data", "VideoData"), *conv_bn(r.CONV1, relu=True)]
    previous = r.CONV1.relu
    for block in r.BLOCKS:
        layers.append((f"{previous}_{previous}_0_split", "Split"))
        if block.branch1 is not None:
            layers += conv_bn(block.branch1, relu=False)
        layers += conv_bn(block.branch2a, relu=True) + conv_bn(block.branch2b, relu=False)
        layers += [(block.name, "Eltwise"), (block.relu, "ReLU")]
        previous = block.relu
    layers += [("pool5", "Pooling3D"), ("fc8", "InnerProduct"), ("loss", "SoftmaxWithLoss")]
    return tuple(layers)


def write_res3d18_caffemodel(path, weights, dialect=UPSTREAM):
    """Write Res3D-18 ``weights`` ({Caffe layer: [blobs]}) as the C3D v1.1 fork does.

    Upstream-style ``layer`` messages, blobs with ``shape``; layers missing from
    ``weights`` that have blobs in the net are written without them (a broken file).
    """
    layers = [
        CaffeLayer(name, layer_type, list(weights.get(name, [])))
        for name, layer_type in res3d18_caffe_plan()
    ]
    return write_caffemodel(path, layers, dialect, net_name="C3D-ResNet18-Sports1M")
