"""The Sports-1M C3D: layer table, feature extractors, input shapes, weight files."""

import h5py
import keras
import numpy as np
import pytest

from c3d.model.weights import WeightsFileError, read_weight_file
from c3d.sport1m_model import C3D_model, create_features_exctractor, create_features_extractor

# The layer table of the issue / README: (name, class, output shape, parameters).
EXPECTED_LAYERS = [
    ("conv1", "Conv3D", (None, 16, 112, 112, 64), 5_248),
    ("pool1", "MaxPooling3D", (None, 16, 56, 56, 64), 0),
    ("conv2", "Conv3D", (None, 16, 56, 56, 128), 221_312),
    ("pool2", "MaxPooling3D", (None, 8, 28, 28, 128), 0),
    ("conv3a", "Conv3D", (None, 8, 28, 28, 256), 884_992),
    ("conv3b", "Conv3D", (None, 8, 28, 28, 256), 1_769_728),
    ("pool3", "MaxPooling3D", (None, 4, 14, 14, 256), 0),
    ("conv4a", "Conv3D", (None, 4, 14, 14, 512), 3_539_456),
    ("conv4b", "Conv3D", (None, 4, 14, 14, 512), 7_078_400),
    ("pool4", "MaxPooling3D", (None, 2, 7, 7, 512), 0),
    ("conv5a", "Conv3D", (None, 2, 7, 7, 512), 7_078_400),
    ("conv5b", "Conv3D", (None, 2, 7, 7, 512), 7_078_400),
    ("zeropad5", "ZeroPadding3D", (None, 2, 8, 8, 512), 0),
    ("pool5", "MaxPooling3D", (None, 1, 4, 4, 512), 0),
    ("flatten", "Flatten", (None, 8192), 0),
    ("fc6", "Dense", (None, 4096), 33_558_528),
    ("dropout6", "Dropout", (None, 4096), 0),
    ("fc7", "Dense", (None, 4096), 16_781_312),
    ("dropout7", "Dropout", (None, 4096), 0),
    ("fc8", "Dense", (None, 487), 1_995_239),
]


@pytest.fixture(scope="module")
def model(sport1m_weights):
    return C3D_model(weights=sport1m_weights)


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(0).uniform(-100, 100, (2, 16, 112, 112, 3)).astype(np.float32)


def test_layer_table_matches_layer_by_layer(model):
    actual = [
        (layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params())
        for layer in model.layers
    ]
    assert actual == EXPECTED_LAYERS
    assert model.count_params() == 79_991_015
    assert isinstance(model, keras.Sequential)
    assert model.input_shape == (None, 16, 112, 112, 3)


def test_pool_geometry_and_activations(model):
    assert model.get_layer("pool1").pool_size == (1, 2, 2)
    assert model.get_layer("pool1").strides == (1, 2, 2)
    assert model.get_layer("zeropad5").padding == ((0, 0), (0, 1), (0, 1))
    for name in ("conv1", "conv5b", "fc6", "fc7"):
        assert model.get_layer(name).activation.__name__ == "relu"
    assert model.get_layer("fc8").activation.__name__ == "softmax"
    assert model.get_layer("dropout6").rate == 0.5


def test_summary_prints_the_table(model):
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    for name, _, _, params in EXPECTED_LAYERS:
        assert name in text
        if params:
            assert f"{params:,}" in text
    assert "79,991,015" in text


@pytest.mark.parametrize(
    "layer, shape",
    [("fc6", (None, 4096)), ("fc7", (None, 4096)), ("pool5", (None, 1, 4, 4, 512))],
)
def test_feature_extractor_shapes(model, layer, shape):
    extractor = create_features_extractor(model, layer)
    assert extractor.output_shape == shape
    assert extractor.input_shape == (None, 16, 112, 112, 3)


def test_fc6_features_are_post_relu_and_follow_from_pool5(model, clips):
    pool5 = create_features_extractor(model, "pool5").predict_on_batch(clips)
    fc6 = create_features_extractor(model, "fc6").predict_on_batch(clips)
    kernel, bias = model.get_layer("fc6").get_weights()
    by_hand = np.maximum(pool5.reshape(len(clips), -1) @ kernel + bias, 0.0)
    np.testing.assert_allclose(fc6, by_hand, rtol=1e-4, atol=1e-5 * np.abs(by_hand).max())
    assert fc6.min() >= 0.0 and fc6.max() > 0.0


def test_old_misspelled_extractor_name_still_works():
    import c3d

    assert create_features_exctractor is create_features_extractor
    assert c3d.create_features_exctractor is create_features_extractor


def test_from_c3d_import_sport1m_model_works_in_scripts(tmp_path, subprocess_env):
    import subprocess
    import sys

    script = tmp_path / "old_script.py"
    script.write_text(
        "from c3d import sport1m_model\n"
        "m = sport1m_model.C3D_model(include_top=False, input_shape=(8, 32, 32, 3))\n"
        "print(m.output_shape)\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], env=subprocess_env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(None, 512)"


def test_include_top_false_ends_at_flatten():
    headless = C3D_model(include_top=False)
    assert headless.layers[-1].name == "flatten"
    assert headless.output_shape == (None, 8192)


def test_other_num_classes_gives_a_new_fc8():
    model = C3D_model(num_classes=101)
    assert model.output_shape == (None, 101)
    assert model.get_layer("fc8").get_weights()[0].shape == (4096, 101)


@pytest.mark.parametrize(
    "input_shape, pool5_shape, fc6_inputs",
    [
        ((8, 32, 32, 3), (1, 1, 1, 512), 512),  # depth 1 at pool5: ceil mode pads it to 2
        ((16, 56, 56, 3), (1, 2, 2, 512), 2048),  # 3x3 at pool5: padded to 4x4 like 7x7
        ((32, 112, 112, 3), (2, 4, 4, 512), 16384),
    ],
)
def test_other_input_shapes_size_fc6_to_match(input_shape, pool5_shape, fc6_inputs):
    model = C3D_model(input_shape=input_shape, num_classes=5)
    assert tuple(model.get_layer("pool5").output.shape) == (None, *pool5_shape)
    assert model.get_layer("fc6").get_weights()[0].shape == (fc6_inputs, 4096)
    x = np.zeros((1, *input_shape), np.float32)
    assert model.predict_on_batch(x).shape == (1, 5)


def test_bad_input_shape_is_refused():
    with pytest.raises(ValueError, match="too small"):
        C3D_model(input_shape=(4, 16, 16, 3))
    with pytest.raises(ValueError, match="frames, height, width, 3"):
        C3D_model(input_shape=(16, 112, 112))


def test_keras3_weights_round_trip_gives_identical_outputs(model, clips, tmp_path):
    path = tmp_path / "copy.weights.h5"
    model.save_weights(path)
    reloaded = C3D_model(weights=str(path))
    np.testing.assert_array_equal(reloaded.predict_on_batch(clips), model.predict_on_batch(clips))


def write_legacy_keras2_h5(model, path):
    """Write weights the way Keras 2's ``model.save_weights('x.h5')`` laid them out."""
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{kind}:0".encode() for kind in ("kernel", "bias")]
            group.attrs["weight_names"] = names if layer.weights else []
            for name, value in zip(names, layer.get_weights(), strict=False):
                group.create_dataset(name.decode(), data=value)


def test_legacy_keras2_h5_gives_identical_outputs(model, clips, tmp_path):
    path = tmp_path / "sports1M_weights_tf.h5"
    write_legacy_keras2_h5(model, path)
    with h5py.File(path, "r") as f:  # the layout is the legacy one, not Keras 3's
        assert "conv1/kernel:0" in f["conv1"] and "layers" not in f
    reloaded = C3D_model(weights=str(path))
    np.testing.assert_array_equal(reloaded.predict_on_batch(clips), model.predict_on_batch(clips))


def test_fine_tune_loads_everything_but_a_resized_fc8(model, sport1m_weights):
    tuned = C3D_model(weights=sport1m_weights, num_classes=101, new_head=True)
    for name in ("conv1", "conv5b", "fc6", "fc7"):
        for got, want in zip(
            tuned.get_layer(name).get_weights(), model.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(got, want)
    new_fc8 = tuned.get_layer("fc8").get_weights()[0]
    assert new_fc8.shape == (4096, 101)
    limit = np.sqrt(6 / (4096 + 101))  # Glorot uniform, as a fresh layer gets
    assert 0.9 * limit < np.abs(new_fc8).max() <= limit


def test_a_loaded_model_rebuilds_from_its_config_with_random_kernels(model):
    # Loading skips the random draw (zeros are written over); the config must not say so,
    # or a model rebuilt from it (clone_model, a saved .keras file) would start dead.
    for layer in model.layers:
        if layer.weights:
            initializer = layer.get_config()["kernel_initializer"]
            assert initializer["class_name"] == "GlorotUniform", layer.name
    clone = keras.models.clone_model(model)
    for name in ("conv1", "conv5b", "fc6", "fc8"):
        assert np.std(clone.get_layer(name).get_weights()[0]) > 0, name


def test_headless_model_loads_from_full_weights(model, sport1m_weights, clips):
    headless = C3D_model(weights=sport1m_weights, include_top=False)
    pool5 = create_features_extractor(model, "flatten").predict_on_batch(clips)
    np.testing.assert_array_equal(headless.predict_on_batch(clips), pool5)


def test_weights_for_another_input_shape_are_refused_naming_file_and_layer(sport1m_weights):
    with pytest.raises(WeightsFileError, match=r"c3d_random\.weights\.h5: layer fc6 has weights"):
        C3D_model(weights=sport1m_weights, input_shape=(8, 32, 32, 3))


def test_bad_weight_files_are_refused_naming_the_file(tmp_path):
    with pytest.raises(WeightsFileError, match="nope.h5: no such weights file"):
        read_weight_file(tmp_path / "nope.h5")
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"this is not HDF5" * 10)
    with pytest.raises(WeightsFileError, match="garbage.weights.h5: not a readable HDF5"):
        C3D_model(weights=str(garbage))
    empty = tmp_path / "empty.weights.h5"
    with h5py.File(empty, "w"):
        pass
    with pytest.raises(WeightsFileError, match="empty.weights.h5: no layer weights"):
        C3D_model(weights=str(empty))


def test_models_used_for_extraction_are_freed_with_their_weights():
    """The per-model caches (extractors, compiled calls) die with the model, not before."""
    import gc
    import weakref

    from c3d.model.builder import feature_model
    from c3d.model.inference import predict_fn

    model = C3D_model(input_shape=(8, 32, 32, 3))
    extractor = feature_model(model, "fc6")
    assert feature_model(model, "fc6") is extractor  # made once per model
    predict_fn(extractor)(np.zeros((1, 8, 32, 32, 3), np.float32))
    assert predict_fn(extractor) is predict_fn(extractor)
    assert [layer.name for layer in model.layers][-1] == "fc8"  # nothing added to the model
    alive = [weakref.ref(model), weakref.ref(extractor), weakref.ref(model.get_layer("fc6"))]
    del model, extractor
    gc.collect()
    assert [ref() for ref in alive] == [None, None, None]
