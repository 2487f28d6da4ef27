"""Reading Caffe files: the schema loader, both dialects at the wire level, blobs, means.

The wire-level tests encode their files by hand (``_Wire`` below) from the field
numbers in Caffe's own schemas, so they check our ``caffe.proto`` independently of the
writer that shares it.
"""

import struct

import numpy as np
import pytest
from caffe_files import write_caffemodel, write_mean_binaryproto

from converter.caffe.blobs import read_mean_blob
from converter.caffe.model import C3D_FORK, UPSTREAM, CaffeLayer, iter_layers
from converter.caffe.schema import caffe_messages, file_descriptor
from converter.errors import CaffeFileError
from converter.layout import (
    caffe_shape_of_keras,
    conv_kernel_to_caffe,
    conv_kernel_to_keras,
    dense_kernel_to_caffe,
    dense_kernel_to_keras,
    flatten_dense_kernel_to_caffe,
    flatten_dense_kernel_to_keras,
)

# ---- a hand encoder for the protobuf wire format ----------------------------------------


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field_varint(number, value):
    return _varint(number << 3) + _varint(value)


def _field_bytes(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _packed_floats(number, values):
    return _field_bytes(number, np.asarray(values, "<f4").tobytes())


def _fork_blob(array):
    """C3D fork BlobProto: num 1, channels 2, length 3, height 4, width 5, data 6."""
    dims = (1,) * (5 - array.ndim) + array.shape
    head = b"".join(_field_varint(n, d) for n, d in zip(range(1, 6), dims, strict=True))
    return head + _packed_floats(6, array.ravel())


def _upstream_blob(array):
    """Upstream BlobProto: shape 7 (BlobShape.dim 1, packed int64), data 5."""
    dims = b"".join(_varint(d) for d in array.shape)
    return _field_bytes(7, _field_bytes(1, dims)) + _packed_floats(5, array.ravel())


def _fork_layer(name, type_number, blobs):
    """V1LayerParameter: name 4, type 5 (enum), blobs 6; lives in NetParameter.layers = 2."""
    body = _field_bytes(4, name.encode()) + _field_varint(5, type_number)
    body += b"".join(_field_bytes(6, _fork_blob(b)) for b in blobs)
    return _field_bytes(2, body)


def _upstream_layer(name, type_name, blobs):
    """LayerParameter: name 1, type 2 (string), blobs 7; in NetParameter.layer = 100."""
    body = _field_bytes(1, name.encode()) + _field_bytes(2, type_name.encode())
    body += b"".join(_field_bytes(7, _upstream_blob(b)) for b in blobs)
    return _field_bytes(100, body)


@pytest.fixture()
def arrays():
    rng = np.random.default_rng(3)
    return {
        "conv": rng.standard_normal((4, 3, 3, 3, 3)).astype(np.float32),
        "bias": rng.standard_normal(4).astype(np.float32),
        "fc": rng.standard_normal((5, 8)).astype(np.float32),
    }


# ---- the schema -------------------------------------------------------------------------


def test_caffe_proto_has_the_field_numbers_of_both_dialects():
    messages = caffe_messages()

    def numbers(name):
        return {f.name: f.number for f in messages[name].DESCRIPTOR.fields}

    assert numbers("NetParameter")["layers"] == 2
    assert numbers("NetParameter")["layer"] == 100
    assert numbers("V1LayerParameter") == {"name": 4, "type": 5, "blobs": 6}
    assert numbers("C3DBlobProto") == {
        "num": 1,
        "channels": 2,
        "length": 3,
        "height": 4,
        "width": 5,
        "data": 6,
    }
    assert numbers("LayerParameter") == {"name": 1, "type": 2, "blobs": 7}
    upstream = numbers("BlobProto")
    assert (upstream["shape"], upstream["data"], upstream["double_data"]) == (7, 5, 8)
    assert [upstream[k] for k in ("num", "channels", "height", "width")] == [1, 2, 3, 4]
    assert numbers("BlobShape") == {"dim": 1}


def test_schema_types_labels_and_packing():
    """The descriptor built in Python says what Caffe's caffe.proto says, field by field."""
    proto = file_descriptor()
    assert (proto.syntax, proto.package) == ("proto2", "c3d_keras.caffe")
    fields = {(m.name, f.name): f for m in proto.message_type for f in m.field}
    FDP = type(fields["BlobShape", "dim"])
    dim = fields["BlobShape", "dim"]
    assert (dim.type, dim.label, dim.options.packed) == (FDP.TYPE_INT64, FDP.LABEL_REPEATED, True)
    for message, field in (("BlobProto", "data"), ("C3DBlobProto", "data")):
        assert fields[message, field].type == FDP.TYPE_BYTES  # packed floats, read as raw bytes
        assert fields[message, field].label == FDP.LABEL_REPEATED
    assert fields["V1LayerParameter", "type"].type == FDP.TYPE_INT32
    assert fields["LayerParameter", "type"].type == FDP.TYPE_STRING
    for (message, field), target in {
        ("NetParameter", "layers"): "V1LayerParameter",
        ("NetParameter", "layer"): "LayerParameter",
        ("V1LayerParameter", "blobs"): "C3DBlobProto",
        ("LayerParameter", "blobs"): "BlobProto",
        ("BlobProto", "shape"): "BlobShape",
    }.items():
        assert fields[message, field].type_name == f".c3d_keras.caffe.{target}"
    for (message, field), descriptor in fields.items():
        if field not in ("data", "double_data", "dim", "layers", "layer", "blobs"):
            assert descriptor.label == FDP.LABEL_OPTIONAL, (message, field)


# ---- caffemodels at the wire level ------------------------------------------------------


def test_reads_a_hand_encoded_c3d_fork_net(tmp_path, arrays):
    path = tmp_path / "fork.caffemodel"
    path.write_bytes(
        _field_bytes(1, b"tiny")
        + _fork_layer("data", 29, [])
        + _fork_layer("conv1a", 30, [arrays["conv"], arrays["bias"]])
        + _fork_layer("fc8-1", 14, [arrays["fc"], arrays["fc"][:, 0]])
    )
    layers = list(iter_layers(path))
    assert layers[0].dialect == C3D_FORK
    assert [layer.name for layer in layers] == ["data", "conv1a", "fc8-1"]
    assert layers[1].type == "V1 type 30"
    conv_weights, conv_bias = layers[1].blobs
    np.testing.assert_array_equal(conv_weights, arrays["conv"])
    assert conv_bias.shape == (1, 1, 1, 1, 4)  # the fork stores 5-D
    np.testing.assert_array_equal(conv_bias.ravel(), arrays["bias"])
    fc_weights = layers[2].blobs[0]
    assert fc_weights.shape == (1, 1, 1, 5, 8)
    np.testing.assert_array_equal(fc_weights[0, 0, 0], arrays["fc"])
    assert fc_weights.dtype == np.float32


def test_reads_a_hand_encoded_upstream_net(tmp_path, arrays):
    path = tmp_path / "upstream.caffemodel"
    path.write_bytes(
        _field_bytes(1, b"tiny")
        + _upstream_layer("data", "Input", [])
        + _upstream_layer("conv1a", "Convolution", [arrays["conv"], arrays["bias"]])
        + _upstream_layer("fc8-1", "InnerProduct", [arrays["fc"]])
    )
    layers = list(iter_layers(path))
    assert layers[0].dialect == UPSTREAM
    assert [(layer.name, layer.type) for layer in layers] == [
        ("data", "Input"),
        ("conv1a", "Convolution"),
        ("fc8-1", "InnerProduct"),
    ]
    np.testing.assert_array_equal(layers[1].blobs[0], arrays["conv"])
    np.testing.assert_array_equal(layers[1].blobs[1], arrays["bias"])
    np.testing.assert_array_equal(layers[2].blobs[0], arrays["fc"])


def test_upstream_legacy_4d_blob_double_data_and_split_packed_field(tmp_path):
    values = np.arange(24, dtype=np.float64).reshape(1, 2, 3, 4) / 7
    legacy = b"".join(_field_varint(n, d) for n, d in zip(range(1, 5), values.shape, strict=True))
    legacy += _field_bytes(8, values.astype("<f8").tobytes())  # double_data
    floats = np.arange(6, dtype=np.float32)
    split = _field_bytes(7, _field_bytes(1, _varint(6)))
    split += _packed_floats(5, floats[:2]) + _packed_floats(5, floats[2:])  # packed, in 2 parts
    body = _field_bytes(1, b"ip") + _field_bytes(7, legacy) + _field_bytes(7, split)
    path = tmp_path / "legacy.caffemodel"
    path.write_bytes(_field_bytes(100, body))
    first, second = list(iter_layers(path))[0].blobs
    assert first.dtype == np.float32 and first.shape == (1, 2, 3, 4)
    np.testing.assert_allclose(first, values, rtol=1e-7)
    np.testing.assert_array_equal(second, floats)


def test_unpacked_floats_are_reported_not_misread(tmp_path):
    # data (field 5) written as 3 separate 32-bit values instead of one packed record
    unpacked = b"".join(_varint(5 << 3 | 5) + struct.pack("<f", v) for v in (1.0, 2.0, 3.0))
    blob = _field_bytes(7, _field_bytes(1, _varint(3))) + unpacked
    path = tmp_path / "unpacked.caffemodel"
    path.write_bytes(_field_bytes(100, _field_bytes(1, b"ip") + _field_bytes(7, blob)))
    with pytest.raises(CaffeFileError, match="layer ip, blob 0 stores its floats unpacked"):
        list(iter_layers(path))


def test_blob_with_fewer_values_than_its_shape_is_an_error(tmp_path):
    blob = _field_bytes(7, _field_bytes(1, _varint(4) + _varint(2))) + _packed_floats(5, [1, 2])
    path = tmp_path / "short.caffemodel"
    path.write_bytes(_field_bytes(100, _field_bytes(1, b"fc") + _field_bytes(7, blob)))
    with pytest.raises(CaffeFileError, match=r"layer fc, blob 0 has 2 values, its shape \(4, 2\)"):
        list(iter_layers(path))


def test_layers_in_both_formats_are_an_error(tmp_path, arrays):
    path = tmp_path / "both.caffemodel"
    path.write_bytes(
        _fork_layer("a", 4, [arrays["bias"]]) + _upstream_layer("b", "ReLU", [arrays["bias"]])
    )
    with pytest.raises(CaffeFileError, match="both the V1"):
        list(iter_layers(path))


@pytest.mark.parametrize("dialect", [C3D_FORK, UPSTREAM])
def test_writer_round_trips_through_the_reader(tmp_path, arrays, dialect):
    layers = [
        CaffeLayer("data", "Data", []),
        CaffeLayer("conv1a", "Convolution", [arrays["conv"], arrays["bias"]]),
        CaffeLayer("relu1a", "ReLU", []),
        CaffeLayer("fc8-1", "InnerProduct", [arrays["fc"], arrays["bias"]]),
    ]
    path = write_caffemodel(tmp_path / f"{dialect}.caffemodel", layers, dialect)
    layers = list(iter_layers(path))
    assert layers[0].dialect == dialect
    assert [layer.name for layer in layers] == ["data", "conv1a", "relu1a", "fc8-1"]
    for written, read in zip(layers, layers, strict=True):
        for a, b in zip(written.blobs, read.blobs, strict=True):
            np.testing.assert_array_equal(b.reshape(a.shape), a)
    assert layers[3].blobs[0].shape == ((1, 1, 1, 5, 8) if dialect == C3D_FORK else (5, 8))


# ---- means ------------------------------------------------------------------------------


def test_real_c3d_mean_binaryproto(data_dir):
    path = data_dir / "fb_train16_128_mean.binaryproto"
    blob = caffe_messages()["C3DBlobProto"].FromString(path.read_bytes())
    assert (blob.num, blob.channels, blob.length, blob.height, blob.width) == (1, 3, 16, 128, 128)
    mean = read_mean_blob(path)
    assert mean.shape == (3, 16, 128, 128) and mean.dtype == np.float32
    # The channel means stated in the README of the C3D authors' data.
    np.testing.assert_array_equal(
        np.round(mean.mean(axis=(1, 2, 3), dtype=np.float64), 2), [105.70, 115.76, 127.54]
    )


def test_load_mean_reads_binaryproto_through_the_registered_reader(data_dir):
    """c3d finds the converter's Caffe reader by its entry point, without importing it."""
    from importlib import metadata

    from c3d.video.mean import READERS_GROUP, load_mean

    [entry] = [e for e in metadata.entry_points(group=READERS_GROUP) if e.name == "binaryproto"]
    assert entry.value == "converter.caffe.blobs:read_mean_blob"
    path = data_dir / "fb_train16_128_mean.binaryproto"
    np.testing.assert_array_equal(load_mean(path), read_mean_blob(path))


@pytest.mark.parametrize("dialect", [C3D_FORK, UPSTREAM])
def test_mean_writer_round_trips_in_both_dialects(tmp_path, dialect):
    mean = np.random.default_rng(0).uniform(0, 255, (3, 16, 8, 9)).astype(np.float32)
    path = write_mean_binaryproto(tmp_path / "mean.binaryproto", mean, dialect)
    np.testing.assert_array_equal(read_mean_blob(path), mean)


@pytest.mark.parametrize(
    ("dims", "problem"),
    [
        ((1, 3, 16, 8, 10), "has 3456 values, its shape"),
        ((3, 16, 8, 9), "a 4-D image mean"),
    ],
)
def test_mean_with_a_wrong_shape_is_an_error(tmp_path, dims, problem):
    mean = np.zeros((1, 3, 16, 8, 9), np.float32)
    path = write_mean_binaryproto(tmp_path / "bad.binaryproto", mean, UPSTREAM, dims=dims)
    with pytest.raises(CaffeFileError, match=problem):
        read_mean_blob(path)


def test_mean_with_one_channel_is_an_error(tmp_path):
    path = write_mean_binaryproto(tmp_path / "gray.binaryproto", np.zeros((1, 16, 8, 8)))
    with pytest.raises(CaffeFileError, match="1 channels, C3D needs 3"):
        read_mean_blob(path)


# ---- layouts ----------------------------------------------------------------------------


def test_conv_kernel_layout_moves_each_weight_to_its_keras_index():
    caffe = np.random.default_rng(1).standard_normal((4, 2, 3, 3, 3)).astype(np.float32)
    keras_kernel = conv_kernel_to_keras(caffe)
    assert keras_kernel.shape == (3, 3, 3, 2, 4)
    for o, i, d, h, w in np.ndindex(caffe.shape):
        assert keras_kernel[d, h, w, i, o] == caffe[o, i, d, h, w]


def test_dense_kernel_layout_is_a_transpose():
    caffe = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(dense_kernel_to_keras(caffe), caffe.T)


def test_fc6_rows_follow_the_channels_last_flatten():
    """Feeding the same pool5 blob to both flatten orders must give the same fc6."""
    rng = np.random.default_rng(2)
    channels, depth, height, width = 3, 2, 2, 3
    pool5 = rng.standard_normal((channels, depth, height, width)).astype(np.float32)
    caffe_w = rng.standard_normal((5, pool5.size)).astype(np.float32)
    keras_w = flatten_dense_kernel_to_keras(caffe_w, (depth, height, width, channels))
    caffe_out = caffe_w @ pool5.reshape(-1)  # Caffe flattens (C, D, H, W)
    keras_out = pool5.transpose(1, 2, 3, 0).reshape(-1) @ keras_w  # Keras: (D, H, W, C)
    np.testing.assert_allclose(keras_out, caffe_out, rtol=1e-5, atol=1e-5)
    # a plain transpose, the classic bug, does not
    assert not np.allclose(pool5.transpose(1, 2, 3, 0).reshape(-1) @ caffe_w.T, caffe_out)


def test_keras_layouts_go_back_to_caffe_by_the_same_rules():
    """Keras files (the earlier ports') are brought to Caffe layout: each weight back at
    its Caffe index, and fc6 giving Caffe's output on Caffe's (C, D, H, W) flatten."""
    rng = np.random.default_rng(3)
    keras_kernel = rng.standard_normal((3, 3, 3, 2, 4)).astype(np.float32)
    caffe = conv_kernel_to_caffe(keras_kernel)
    assert caffe.shape == caffe_shape_of_keras(keras_kernel.shape) == (4, 2, 3, 3, 3)
    for d, h, w, i, o in np.ndindex(keras_kernel.shape):
        assert caffe[o, i, d, h, w] == keras_kernel[d, h, w, i, o]
    dense = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(dense_kernel_to_caffe(dense), dense.T)

    channels, depth, height, width = 3, 2, 2, 3
    pool5 = rng.standard_normal((depth, height, width, channels)).astype(np.float32)
    keras_w = rng.standard_normal((pool5.size, 5)).astype(np.float32)
    caffe_w = flatten_dense_kernel_to_caffe(keras_w, pool5.shape)
    assert caffe_w.shape == caffe_shape_of_keras(keras_w.shape) == (5, pool5.size)
    keras_out = pool5.reshape(-1) @ keras_w
    caffe_out = caffe_w @ pool5.transpose(3, 0, 1, 2).reshape(-1)
    np.testing.assert_allclose(caffe_out, keras_out, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(flatten_dense_kernel_to_keras(caffe_w, pool5.shape), keras_w)
