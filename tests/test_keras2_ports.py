"""Scripts of the earlier Keras 2 ports run with only the import changed, on their weights.

The Keras 2.2.4 port's ``example.py`` (its ``sport1m_model.py`` builds the model and the
fc6 extractor) builds the Sports-1M C3D, loads ``C3D_Sport1M_weights_keras_2.2.4.h5``
with ``model.load_weights`` (Keras' own loader, by layer position), predicts on a
(1, 16, 112, 112, 3) array and cuts the model at fc6 with
``Model(inputs=model.input, outputs=model.get_layer('fc6').output)``. The weights file
is written here with h5py as Keras 2.2.4 wrote it (``keras2_files``), from the
session's random full-size weights; ``c3d convert`` must rewrite it exactly.
"""

import types

import keras
import numpy as np
import pytest
from converter_helpers import run_c3d
from keras2_files import write_keras224_weights

from c3d.model import plan
from c3d.model.weights import read_weight_file

PORT_FILE = "C3D_Sport1M_weights_keras_2.2.4.h5"


@pytest.fixture(scope="module")
def port_weights(sport1m_weights, tmp_path_factory):
    arrays = read_weight_file(sport1m_weights)
    folder = tmp_path_factory.mktemp("keras224") / "models"
    folder.mkdir()
    path = write_keras224_weights(folder / PORT_FILE, arrays)
    return types.SimpleNamespace(path=path, arrays=arrays)


@pytest.fixture(scope="module")
def clip():
    return np.random.default_rng(3).uniform(-100, 100, (1, 16, 112, 112, 3)).astype(np.float32)


def test_the_keras_224_ports_example_runs_with_only_the_import_changed(port_weights, clip):
    # was: from sport1m_model import create_model_functional, create_features_exctractor
    from c3d.sport1m_model import create_features_exctractor, create_model_functional

    model = create_model_functional()
    model.load_weights(str(port_weights.path))
    dummy_input = np.zeros((1, 16, 112, 112, 3))
    prediction_softmax = model.predict(dummy_input)
    predicted_class = np.argmax(prediction_softmax)
    # their create_features_exctractor(C3D_model, layer_name='fc6'):
    extractor = keras.Model(inputs=model.input, outputs=model.get_layer("fc6").output)
    features = extractor.predict(clip)

    for name in plan.WEIGHTED_LAYERS:  # Keras' loader put every array in its layer
        for loaded, written in zip(
            model.get_layer(name).get_weights(), port_weights.arrays[name], strict=True
        ):
            np.testing.assert_array_equal(loaded, written)
    assert prediction_softmax.shape == (1, plan.NUM_CLASSES)
    assert abs(float(prediction_softmax.sum()) - 1) < 1e-5 and 0 <= predicted_class < 487
    assert features.shape == (1, 4096)
    # fc6 by hand from the flattened pool5: the extractor is this model's fc6 (post-ReLU)
    pool5 = keras.Model(model.input, model.get_layer("flatten").output).predict(clip)
    kernel, bias = port_weights.arrays["fc6"]
    by_hand = np.maximum(pool5 @ kernel + bias, 0)
    np.testing.assert_allclose(features, by_hand, rtol=1e-4, atol=1e-5 * np.abs(by_hand).max())
    assert features.max() > 0
    # c3d's own spelling of their extractor gives the same
    np.testing.assert_allclose(create_features_exctractor(model).predict(clip), features, rtol=1e-6)


def test_the_ports_file_loads_by_layer_name_too(port_weights, clip):
    from c3d.sport1m_model import C3D_model

    by_position = C3D_model()
    by_position.load_weights(str(port_weights.path))
    by_name = C3D_model(weights=port_weights.path)
    np.testing.assert_array_equal(by_name.predict(clip), by_position.predict(clip))


def test_c3d_and_c3d_bn_have_input_and_output_like_keras_2_models():
    from c3d import C3D_BN, C3D_model

    for model in (C3D_model(input_shape=(8, 32, 32, 3)), C3D_BN(input_shape=(8, 32, 32, 3))):
        assert model.input is model.inputs[0]
        assert model.output.shape == model.outputs[0].shape
        fc6 = keras.Model(model.input, model.get_layer("fc6").output)
        whole = keras.Model(model.input, model.output)
        x = np.random.default_rng(0).uniform(-1, 1, (2, 8, 32, 32, 3)).astype(np.float32)
        assert tuple(fc6(x).shape) == (2, 4096)
        np.testing.assert_allclose(whole(x), model(x), rtol=1e-5, atol=1e-6)


def test_c3d_convert_rewrites_the_ports_file_as_keras_3(port_weights, tmp_path):
    out = tmp_path / "c3d_sports1m.weights.h5"
    result = run_c3d("convert", port_weights.path, out)
    assert result.returncode == 0, result.stderr
    assert "Keras 2.2.4 weights (tensorflow backend), channels-last" in result.stderr
    assert result.stdout.splitlines()[0].split()[:2] == ["Keras", "2"]
    converted = read_weight_file(out)
    assert sorted(converted) == sorted(plan.WEIGHTED_LAYERS)
    for name, arrays in port_weights.arrays.items():
        for a, b in zip(converted[name], arrays, strict=True):
            np.testing.assert_array_equal(a, b)  # Caffe layout and back: exact
