"""Full-size conversion of every format, proven against an independent Caffe-semantics forward pass.

A full-size C3D caffemodel (random weights, the authors' layer names and shapes) is
written in each dialect: the C3D v1.0 fork with 487 classes, fetched by
``c3d fetch-weights`` from a local HTTP server into the weights cache (``$C3D_HOME``; the
``make convert-weights`` path) and converted, and upstream Caffe with 101 classes (a
UCF101 fine-tune), converted by ``c3d convert``. The same weights are saved as the
PyTorch ports save them (``torch_files``): DavideA/c3d-pytorch's ``c3d.pickle`` (legacy
torch format, 487 classes), an mmaction2 UCF101 recognizer checkpoint as mmengine writes
it (``state_dict``/``meta``/``message_hub``/``optimizer``, ``backbone.`` keys, a 101-way
``cls_head``) and mmaction2's Sports-1M backbone (no fc8), each converted by
``c3d convert``. The Keras model's fc6 and softmax outputs on random clips must match
``caffe_reference.forward`` (numpy, channels-first, Caffe's kernels and flatten order,
ceil-mode pool5); deliberately wrong conversions must not.
"""

import logging
import shutil
import types

import numpy as np
import pytest
from caffe_files import c3d_layers, write_caffemodel, write_random_c3d_caffemodel
from caffe_reference import forward, relative_error
from converter_helpers import assert_one_line_error, file_server, no_output_left, run_c3d

from c3d.model import plan
from c3d.model.presets import SPORTS1M
from c3d.model.weights import read_weight_file
from converter.caffe.model import C3D_FORK, UPSTREAM

SEED = 7
TOLERANCE = 1e-4  # max |keras - reference| / max |reference|
UCF101_CLASSES = 101
CLIP_SHAPE = (16, 112, 112, 3)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder for the ~1.6 GB of files below, removed when this module is done."""
    folder = tmp_path_factory.mktemp("full_size_conversion")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def caffe_files(workdir):
    """The two full-size caffemodels and the weights they hold (Caffe's layout)."""
    folder = workdir / "caffe"
    folder.mkdir()
    fork = folder / "c3d_sports1m_fork.caffemodel"
    weights = write_random_c3d_caffemodel(fork, C3D_FORK, num_classes=487, seed=SEED)
    # The same conv1a-fc7 with a 101-way fc8: a UCF101 fine-tune, in upstream format.
    rng = np.random.default_rng(SEED + 1)
    ucf_fc8 = [
        rng.standard_normal((UCF101_CLASSES, 4096), dtype=np.float32) * np.float32(0.02),
        rng.uniform(-0.1, 0.1, UCF101_CLASSES).astype(np.float32),
    ]
    upstream = folder / "c3d_ucf101_upstream.caffemodel"
    write_caffemodel(upstream, c3d_layers({**weights, "fc8-1": ucf_fc8}), UPSTREAM)
    return types.SimpleNamespace(fork=fork, upstream=upstream, weights=weights, ucf_fc8=ucf_fc8)


@pytest.fixture(scope="module")
def fork_conversion(caffe_files, workdir):
    """``c3d fetch-weights`` of the fork model, downloaded from 127.0.0.1 into the cache."""
    models = workdir / "models"
    with file_server({"/c3d": caffe_files.fork}) as server:
        result = run_c3d("fetch-weights", "--url", server.url("/c3d"), env={"C3D_HOME": models})
    assert result.returncode == 0, result.stderr
    assert (models / SPORTS1M.source_file).stat().st_size == caffe_files.fork.stat().st_size
    return types.SimpleNamespace(weights=models / SPORTS1M.file_name, result=result)


@pytest.fixture(scope="module")
def upstream_conversion(caffe_files, workdir):
    out = workdir / "converted" / "c3d_ucf101.weights.h5"
    result = run_c3d("convert", caffe_files.upstream, out)
    assert result.returncode == 0, result.stderr
    return types.SimpleNamespace(weights=out, result=result)


def _convert(source, out, *options):
    result = run_c3d("convert", source, out, *options)
    assert result.returncode == 0, result.stderr
    return types.SimpleNamespace(weights=out, result=result)


@pytest.fixture(scope="module")
def torch_files(caffe_files, workdir):
    """The Caffe files' weights saved as the PyTorch ports save them."""
    pytest.importorskip("torch")
    from torch_files import (
        davidea_state_dict,
        mmaction2_state_dict,
        save,
        save_mmengine_checkpoint,
    )

    folder = workdir / "torch"
    folder.mkdir()
    weights = caffe_files.weights
    return types.SimpleNamespace(
        # named like a Caffe model: the format is told from the content
        davidea=save(davidea_state_dict(weights), folder / "c3d.caffemodel", legacy=True),
        recognizer=save_mmengine_checkpoint(
            folder / "c3d_ucf101_mmaction2.pth",
            mmaction2_state_dict(weights, "backbone.", caffe_files.ucf_fc8),
        ),
        backbone=save(mmaction2_state_dict(weights), folder / "c3d_sports1m_pretrain.pth"),
    )


@pytest.fixture(scope="module")
def davidea_conversion(torch_files, workdir):
    return _convert(torch_files.davidea, workdir / "converted" / "c3d_davidea.weights.h5")


@pytest.fixture(scope="module")
def recognizer_conversion(torch_files, workdir):
    return _convert(torch_files.recognizer, workdir / "converted" / "c3d_mmaction2.weights.h5")


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(SEED + 2)
    return rng.uniform(-1, 1, (2, *CLIP_SHAPE)).astype(np.float32)


@pytest.fixture(scope="module")
def reference(caffe_files, clips):
    """Caffe-semantics outputs on ``clips``: inputs go in channels-first (N, C, D, H, W)."""
    return forward(caffe_files.weights, clips.transpose(0, 4, 1, 2, 3))


def _probe(model):
    """A model giving (fc6, softmax) of ``model``, sharing its layers."""
    import keras

    return keras.Model(model.inputs, [model.get_layer("fc6").output, model.outputs[0]])


@pytest.fixture(scope="module")
def fork_model(fork_conversion):
    """A 487-way C3D loaded with Keras' own ``load_weights`` from the converted file."""
    from c3d.sport1m_model import C3D_model

    model = C3D_model()
    model.load_weights(fork_conversion.weights)
    return model


def test_fork_conversion_matches_the_caffe_reference(fork_model, clips, reference):
    fc6, prob = _probe(fork_model).predict_on_batch(clips)
    assert relative_error(fc6, reference["fc6"]) <= TOLERANCE
    assert relative_error(prob, reference["prob"]) <= TOLERANCE
    np.testing.assert_array_equal(prob.argmax(axis=1), reference["prob"].argmax(axis=1))
    # the check has teeth: the two clips' fc6 differ by far more than the tolerance,
    # and the softmax is not flat
    assert relative_error(reference["fc6"][0], reference["fc6"][1]) > 100 * TOLERANCE
    assert reference["prob"].max() > 5 / 487


def test_ucf101_upstream_conversion_is_101_way_and_matches(
    caffe_files, upstream_conversion, clips, reference
):
    from c3d.sport1m_model import C3D_model

    model = C3D_model(weights=upstream_conversion.weights, num_classes=UCF101_CLASSES)
    assert model.output_shape == (None, UCF101_CLASSES)
    fc6, prob = _probe(model).predict_on_batch(clips)
    expected = forward({"fc8-1": caffe_files.ucf_fc8}, None, "fc8-1", reference["fc7"])
    assert relative_error(fc6, reference["fc6"]) <= TOLERANCE
    assert relative_error(prob, expected["prob"]) <= TOLERANCE
    assert "fc8 has 101 classes" in upstream_conversion.result.stderr


def test_wrong_conversions_fail_the_same_check(fork_model, caffe_files, clips, reference):
    """Negative controls: the comparison above catches the classic conversion bugs."""
    weights = caffe_files.weights
    probe = _probe(fork_model)
    conv_names = {"conv1a": "conv1", "conv2a": "conv2"}
    conv_names |= {n: n for n in ("conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")}
    changed = [fork_model.get_layer(name) for name in ("fc6", *conv_names.values())]
    converted = [layer.get_weights() for layer in changed]
    try:
        # fc6 rows not permuted: Caffe's (out, in) merely transposed
        fork_model.get_layer("fc6").set_weights([weights["fc6-1"][0].T, weights["fc6-1"][1]])
        fc6, _ = probe.predict_on_batch(clips)
        assert relative_error(fc6, reference["fc6"]) > TOLERANCE

        fork_model.get_layer("fc6").set_weights(converted[0])
        for caffe_name, keras_name in conv_names.items():
            layer = fork_model.get_layer(keras_name)
            kernel, bias = weights[caffe_name]
            # kernels not transposed: (out, in, d, h, w) read as (d, h, w, in, out)
            layer.set_weights([kernel.reshape(layer.kernel.shape), bias])
        fc6, _ = probe.predict_on_batch(clips)
        assert relative_error(fc6, reference["fc6"]) > TOLERANCE
    finally:
        for layer, arrays in zip(changed, converted, strict=True):
            layer.set_weights(arrays)


def test_convert_prints_the_layer_mapping(fork_conversion, upstream_conversion):
    fork_rows = fork_conversion.result.stdout.splitlines()
    assert fork_rows[0].split() == "Caffe layer Caffe shapes Keras layer Keras shapes".split()
    assert len(fork_rows) == 12
    assert fork_rows[9].split("->")[0].split()[0] == "fc6-1"
    assert "(1, 1, 1, 4096, 8192) + (1, 1, 1, 1, 4096)" in fork_rows[9]
    assert fork_rows[9].split("->")[1].split() == ["fc6", "(8192,", "4096)", "+", "(4096,)"]
    upstream_rows = upstream_conversion.result.stdout.splitlines()
    assert "conv1a       (64, 3, 3, 3, 3) + (64,)" in upstream_rows[1]
    assert upstream_rows[11].split("->")[1].split() == ["fc8", "(4096,", "101)", "+", "(101,)"]
    assert "C3D v1.0 fork format" in fork_conversion.result.stderr
    assert "upstream Caffe format" in upstream_conversion.result.stderr


def test_truncated_caffemodel(caffe_files, tmp_path):
    cut = 40_000_000
    # the layer whose bytes span the cut, from the sizes of the weights written
    ends = np.cumsum([sum(a.nbytes for a in w) for w in caffe_files.weights.values()])
    inside = list(caffe_files.weights)[int(np.searchsorted(ends, cut))]
    source = tmp_path / "truncated.caffemodel"
    with open(caffe_files.fork, "rb") as full:
        source.write_bytes(full.read(cut))
    result = run_c3d("convert", source, tmp_path / "out.weights.h5")
    assert_one_line_error(result, f"{source}: truncated (ends inside layer {inside}")
    assert no_output_left(tmp_path, "out.weights.h5")


# ---- PyTorch files --------------------------------------------------------------------


def test_davidea_pickle_matches_the_caffe_reference(
    davidea_conversion, caffe_files, clips, reference
):
    from c3d.sport1m_model import C3D_model

    model = C3D_model()
    model.load_weights(davidea_conversion.weights)
    probe = _probe(model)
    fc6, prob = probe.predict_on_batch(clips)
    assert relative_error(fc6, reference["fc6"]) <= TOLERANCE
    assert relative_error(prob, reference["prob"]) <= TOLERANCE
    np.testing.assert_array_equal(prob.argmax(axis=1), reference["prob"].argmax(axis=1))
    stderr = davidea_conversion.result.stderr
    for found in ("PyTorch file", "torch legacy (pre-1.6) format", "a bare state dict"):
        assert found in stderr
    assert "DavideA/c3d-pytorch layout, 22 tensors; fc8 has 487 classes" in stderr
    rows = davidea_conversion.result.stdout.splitlines()
    assert rows[0].split() == "PyTorch layer PyTorch shapes Keras layer Keras shapes".split()
    assert rows[9].split("->")[0].split() == ["fc6", "(4096,", "8192)", "+", "(4096,)"]

    # negative control: fc6 as the file stores it, merely transposed (rows not permuted)
    weights, bias = caffe_files.weights["fc6-1"]
    model.get_layer("fc6").set_weights([weights.T, bias])
    fc6, _ = probe.predict_on_batch(clips)
    assert relative_error(fc6, reference["fc6"]) > TOLERANCE


def test_mmaction2_checkpoint_matches_the_caffe_reference(
    recognizer_conversion, caffe_files, clips, reference
):
    from c3d.sport1m_model import C3D_model

    model = C3D_model(weights=recognizer_conversion.weights, num_classes=UCF101_CLASSES)
    fc6, prob = _probe(model).predict_on_batch(clips)
    expected = forward({"fc8-1": caffe_files.ucf_fc8}, None, "fc8-1", reference["fc7"])
    assert relative_error(fc6, reference["fc6"]) <= TOLERANCE
    assert relative_error(prob, expected["prob"]) <= TOLERANCE
    stderr = recognizer_conversion.result.stderr
    assert "torch zip format, a checkpoint (state_dict + message_hub + meta + optimizer)" in stderr
    assert "mmaction2 layout, keys under backbone., 22 tensors; fc8 has 101 classes" in stderr
    rows = recognizer_conversion.result.stdout.splitlines()
    assert rows[1].split("->")[0].split()[0] == "conv1a.conv"
    assert rows[11].split("->")[0].split()[0] == "cls_head.fc_cls"
    assert rows[11].split("->")[1].split() == ["fc8", "(4096,", "101)", "+", "(101,)"]


# The two below convert in this process (the CLI is proven above): TensorFlow is loaded.


def test_mmaction2_backbone_without_fc8_converts_to_a_headless_file(
    torch_files, workdir, clips, reference, caplog
):
    from c3d.model.loader import load_model
    from c3d.model.weights import WeightsFileError
    from c3d.sport1m_model import C3D_model
    from converter.convert import convert_weights

    out = workdir / "converted" / "c3d_backbone.weights.h5"
    with caplog.at_level(logging.INFO, logger="converter.convert"):
        conversion = convert_weights(torch_files.backbone, out)
    assert sorted(read_weight_file(out)) == sorted(plan.WEIGHTED_LAYERS[:-1])
    assert conversion.num_classes is None
    assert [row.keras_name for row in conversion.rows] == list(plan.WEIGHTED_LAYERS[:-1])
    assert "no fc8: a headless model (conv1-fc7), features only" in caplog.text

    model = C3D_model(weights=out)  # fc8 stays freshly initialised
    fc6, _ = _probe(model).predict_on_batch(clips)
    assert relative_error(fc6, reference["fc6"]) <= TOLERANCE
    with pytest.raises(WeightsFileError, match="has no fc8"):
        load_model(out, need_classifier=True)  # what classify loads with


def test_mmaction2_backbone_with_num_classes_gets_a_fresh_fc8(
    torch_files, workdir, clips, reference, caplog
):
    from c3d.sport1m_model import C3D_model
    from converter.convert import convert_weights, format_table

    out = workdir / "converted" / "c3d_backbone_10.weights.h5"
    with caplog.at_level(logging.INFO, logger="converter.convert"):
        conversion = convert_weights(torch_files.backbone, out, num_classes=10)
    arrays = read_weight_file(out)
    assert [a.shape for a in arrays["fc8"]] == [(4096, 10), (10,)]
    assert np.abs(arrays["fc8"][0]).max() > 0  # drawn, not zeros
    assert "no fc8: a fresh 10-way fc8 (random, to be trained)" in caplog.text
    last = format_table(conversion.rows, conversion.source.column).splitlines()[-1]
    assert last.split() == ["(new)", "->", "fc8", "(4096,", "10)", "+", "(10,)"]
    model = C3D_model(weights=out, num_classes=10)
    fc6, _ = _probe(model).predict_on_batch(clips)
    assert relative_error(fc6, reference["fc6"]) <= TOLERANCE
