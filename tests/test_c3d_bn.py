"""C3D-BN: BatchNormalization after every Conv3D, no dropout, and BN's two modes."""

import keras
import numpy as np
import pytest

from c3d import C3D_BN
from c3d.model.plan import CONVS
from c3d.sport1m_model import C3D_model


def test_structure_follows_c3d_with_bn_before_each_relu():
    model = C3D_BN(num_classes=8)
    types = {layer.name: type(layer).__name__ for layer in model.layers}
    names = [layer.name for layer in model.layers]
    for conv_name, filters in ((conv.name, conv.filters) for conv in CONVS):
        i = names.index(conv_name)
        assert names[i : i + 3] == [conv_name, f"{conv_name}_bn", f"{conv_name}_relu"]
        assert types[f"{conv_name}_bn"] == "BatchNormalization"
        assert model.get_layer(conv_name).activation.__name__ == "linear"
        assert model.get_layer(conv_name).filters == filters
    assert "Dropout" not in types.values()
    assert names[-6:] == ["zeropad5", "pool5", "flatten", "fc6", "fc7", "fc8"]
    assert model.get_layer("fc8").activation.__name__ == "softmax"


def test_shapes_match_c3d_and_the_head_is_resized():
    bn = C3D_BN(num_classes=8)
    plain = C3D_model()
    for name in ("conv1", "pool2", "conv4b", "zeropad5", "pool5", "flatten", "fc6", "fc7"):
        assert bn.get_layer(name).output.shape == plain.get_layer(name).output.shape
    assert bn.output_shape == (None, 8)
    small = C3D_BN(num_classes=4, input_shape=(8, 32, 32, 3))
    assert small.output_shape == (None, 4)
    assert small.get_layer("fc6").get_weights()[0].shape == (512, 4096)


@pytest.fixture(scope="module")
def small_bn():
    keras.utils.set_random_seed(7)
    return C3D_BN(num_classes=4, input_shape=(8, 32, 32, 3))


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(3).normal(20.0, 30.0, (4, 8, 32, 32, 3)).astype(np.float32)


def test_training_mode_normalises_with_batch_statistics(small_bn, batch):
    to_bn = keras.Model(small_bn.inputs[0], small_bn.get_layer("conv1_bn").output)
    conv = keras.Model(small_bn.inputs[0], small_bn.get_layer("conv1").output)(batch)
    conv = keras.ops.convert_to_numpy(conv)

    trained = keras.ops.convert_to_numpy(to_bn(batch, training=True))
    np.testing.assert_allclose(trained.mean(axis=(0, 1, 2, 3)), 0.0, atol=1e-3)
    np.testing.assert_allclose(trained.var(axis=(0, 1, 2, 3)), 1.0, rtol=1e-2)

    # Inference mode uses the moving statistics (one update with momentum 0.9 moved them
    # only a tenth of the way), so it does not normalise the conv output.
    inferred = keras.ops.convert_to_numpy(to_bn(batch, training=False))
    bn = small_bn.get_layer("conv1_bn")
    mean, var = (keras.ops.convert_to_numpy(v) for v in (bn.moving_mean, bn.moving_variance))
    np.testing.assert_allclose(
        inferred, (conv - mean) / np.sqrt(var + bn.epsilon), rtol=1e-4, atol=1e-3
    )
    assert not np.allclose(inferred, trained, atol=1e-2)


def test_training_mode_updates_moving_statistics_and_inference_does_not(small_bn, batch):
    bn = small_bn.get_layer("conv2_bn")
    before = keras.ops.convert_to_numpy(bn.moving_mean).copy()
    small_bn(batch, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.moving_mean), before)
    small_bn(batch, training=True)
    assert not np.allclose(keras.ops.convert_to_numpy(bn.moving_mean), before)


def test_model_outputs_differ_between_modes(small_bn, batch):
    train_out = keras.ops.convert_to_numpy(small_bn(batch, training=True))
    infer_out = keras.ops.convert_to_numpy(small_bn(batch, training=False))
    np.testing.assert_allclose(train_out.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(train_out, infer_out, atol=1e-4)
