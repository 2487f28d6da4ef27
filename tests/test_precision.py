"""--precision bf16: bfloat16 compute with float32 weights and outputs, refused where emulated."""

import keras
import numpy as np
import pytest

from c3d import runtime
from c3d.errors import C3DError
from c3d.model import loader
from c3d.model.inference import make_predict_fn
from c3d.sport1m_model import C3D_model

# Smaller than 16x112x112 so that even an emulated bf16 (AVX2-only CPUs) is quick.
SHAPE = (16, 56, 56, 3)


def he_weights(model, seed=3):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            fan_in = int(np.prod(kernel.shape[:-1]))
            scale = np.sqrt(2.0 / fan_in)
            kernel = rng.standard_normal(kernel.shape, np.float32) * scale
            layer.set_weights([kernel, rng.uniform(-0.05, 0.05, bias.shape).astype(np.float32)])


def test_bf16_features_are_float32_and_close_to_fp32():
    fp32 = C3D_model(num_classes=10, input_shape=SHAPE)
    he_weights(fp32)
    with loader.dtype_policy("mixed_bfloat16"):
        bf16 = C3D_model(num_classes=10, input_shape=SHAPE)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    bf16.set_weights(fp32.get_weights())
    conv1 = bf16.get_layer("conv1")
    assert (conv1.compute_dtype, conv1.kernel.dtype) == ("bfloat16", "float32")

    clips = np.random.default_rng(0).uniform(-100, 100, (2, *SHAPE)).astype(np.float32)
    from c3d.sport1m_model import create_features_extractor

    want = make_predict_fn(create_features_extractor(fp32, "fc6"))(clips)
    got = make_predict_fn(create_features_extractor(bf16, "fc6"))(clips)
    assert got.dtype == np.float32 and got.shape == want.shape
    relative = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    # bfloat16 keeps 8 bits of mantissa: visibly not fp32, but within a few percent.
    assert np.all(relative > 1e-4) and np.all(relative < 0.03), relative


def test_bf16_is_refused_where_it_would_be_emulated(monkeypatch):
    monkeypatch.setattr(runtime, "has_fast_bf16", lambda: False)
    with pytest.raises(C3DError, match="bf16 needs a GPU or a CPU with AVX-512 BF16 or AMX"):
        loader.check_precision("bf16")
    assert loader.check_precision("fp32") == "fp32"
    with pytest.raises(C3DError, match="unknown precision 'fp16'"):
        loader.check_precision("fp16")


def test_cpu_bf16_support_is_read_from_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "fma"})
    assert not runtime.cpu_has_fast_bf16()
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert runtime.cpu_has_fast_bf16()


def test_load_model_in_bf16_loads_the_weights_into_a_bf16_model(sport1m_weights, monkeypatch):
    monkeypatch.setattr(runtime, "has_fast_bf16", lambda: True)
    model = loader.load_model(sport1m_weights, precision="bf16")
    reference = loader.load_model(sport1m_weights)
    assert model.get_layer("fc6").compute_dtype == "bfloat16"
    assert reference.get_layer("fc6").compute_dtype == "float32"
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
