"""Bad input to ``c3d convert`` / ``c3d convert-mean``: one error line, exit != 0, no output.

Also ``c3d convert-mean`` on the real Sports-1M mean of the C3D authors. All through the
real CLI in a child process.
"""

import numpy as np
import pytest
from caffe_files import C3D_CAFFE_PLAN, write_caffemodel, write_mean_binaryproto
from converter_helpers import assert_one_line_error, no_output_left, run_c3d

from converter.caffe.blobs import read_mean_blob
from converter.caffe.model import C3D_FORK, UPSTREAM, CaffeLayer

OUT = "out.weights.h5"


def _tiny_c3d_layers(skip=(), extra=(), shapes=None):
    """C3D's layer list with 1-value blobs (names checked before any shape), or ``shapes``."""
    shapes = shapes or {}
    layers = []
    for name, layer_type in C3D_CAFFE_PLAN:
        if name in skip:
            continue
        blobs = []
        if layer_type in ("Convolution", "InnerProduct"):
            weight_shape, bias_shape = shapes.get(name, ((1, 1), (1,)))
            blobs = [np.ones(weight_shape, np.float32), np.zeros(bias_shape, np.float32)]
        layers.append(CaffeLayer(name, layer_type, blobs))
    layers += [CaffeLayer(name, "Convolution", [np.ones((2, 2)), np.ones(2)]) for name in extra]
    return layers


def _convert(tmp_path, source):
    result = run_c3d("convert", source, tmp_path / OUT)
    assert no_output_left(tmp_path, OUT)
    return result


def test_empty_file(tmp_path):
    source = tmp_path / "empty.caffemodel"
    source.write_bytes(b"")
    assert_one_line_error(_convert(tmp_path, source), f"{source}: empty file")


def test_missing_file(tmp_path):
    source = tmp_path / "absent.caffemodel"
    assert_one_line_error(_convert(tmp_path, source), f"{source}: no such file")


def test_random_binary(tmp_path):
    source = tmp_path / "random.caffemodel"
    source.write_bytes(np.random.default_rng(5).integers(0, 256, 1 << 20, np.uint8).tobytes())
    assert_one_line_error(_convert(tmp_path, source), f"{source}: not a Caffe model")


def test_text_file(tmp_path):
    source = tmp_path / "deploy.prototxt"
    source.write_text('name: "C3D"\nlayers {\n  name: "conv1a"\n  type: CONVOLUTION3D\n}\n')
    assert_one_line_error(_convert(tmp_path, source), f"{source}: a text file")


def test_net_missing_a_c3d_layer(tmp_path):
    source = write_caffemodel(tmp_path / "no_conv5b.caffemodel", _tiny_c3d_layers(skip={"conv5b"}))
    assert_one_line_error(
        _convert(tmp_path, source), f"{source}: no weights for C3D layer(s) conv5b"
    )


def test_net_with_a_layer_c3d_does_not_have(tmp_path):
    source = write_caffemodel(tmp_path / "extra.caffemodel", _tiny_c3d_layers(extra=["conv6a"]))
    assert_one_line_error(
        _convert(tmp_path, source), f"{source}: layer conv6a has weights but C3D has no such layer"
    )


def test_net_with_a_wrong_shape(tmp_path):
    # conv1a with 2-D (1x3x3) kernels: C3D's names, another architecture. (Shapes are
    # checked against the Keras model, so this one loads TensorFlow: one test only.)
    shapes = {"conv1a": ((64, 3, 1, 3, 3), (64,)), "fc8-1": ((10, 4096), (10,))}
    source = write_caffemodel(tmp_path / "2d.caffemodel", _tiny_c3d_layers(shapes=shapes), UPSTREAM)
    assert_one_line_error(
        _convert(tmp_path, source),
        f"{source}: layer conv1a has blobs (64, 3, 1, 3, 3) + (64,)",
        "C3D's conv1 needs (64, 3, 3, 3, 3) + (64,)",
    )


def test_output_must_be_a_keras_weights_file(tmp_path):
    source = write_caffemodel(tmp_path / "tiny.caffemodel", _tiny_c3d_layers())
    result = run_c3d("convert", source, tmp_path / "out.h5")
    assert_one_line_error(result, "out.h5: the output must be named *.weights.h5")


# ---- convert-mean -----------------------------------------------------------------------


def test_convert_mean_of_the_real_sports1m_mean(tmp_path, data_dir):
    source = data_dir / "fb_train16_128_mean.binaryproto"
    out = tmp_path / "mean.npy"
    result = run_c3d("convert-mean", source, out)
    assert result.returncode == 0, result.stderr
    mean = np.load(out)
    assert mean.dtype == np.float32 and mean.shape == (3, 16, 128, 128)
    np.testing.assert_array_equal(mean, read_mean_blob(source))
    assert "(3, 16, 128, 128)" in result.stdout and "105.70, 115.76, 127.54" in result.stdout


@pytest.mark.parametrize(
    ("mean_shape", "dims", "problem"),
    [
        ((1, 3, 16, 128, 128), (1, 3, 16, 128, 171), "has 786432 values, its shape"),
        ((1, 3, 8, 128, 128), None, "not usable as a C3D mean: mean cube has 8 frames"),
        (
            (1, 3, 16, 100, 100),
            None,
            "not usable as a C3D mean: a 100x100 mean cube centred on 128x171 frames",
        ),
        ((1, 1, 16, 128, 128), None, "1 channels, C3D needs 3"),
    ],
)
def test_convert_mean_of_a_mean_of_the_wrong_size(tmp_path, mean_shape, dims, problem):
    source = write_mean_binaryproto(
        tmp_path / "bad.binaryproto", np.zeros(mean_shape, np.float32), C3D_FORK, dims=dims
    )
    result = run_c3d("convert-mean", source, tmp_path / "mean.npy")
    assert_one_line_error(result, f"{source}: ", problem)
    assert no_output_left(tmp_path, "mean.npy")


def test_convert_mean_of_a_caffemodel_like_text(tmp_path):
    source = tmp_path / "mean.binaryproto"
    source.write_text("this is not a mean\n")
    result = run_c3d("convert-mean", source, tmp_path / "mean.npy")
    assert_one_line_error(result, f"{source}: a text file, not a binary Caffe mean .binaryproto")
    assert no_output_left(tmp_path, "mean.npy")
