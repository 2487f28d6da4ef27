"""The model code is pure Keras 3: the JAX backend gives the TensorFlow backend's outputs."""

import subprocess
import sys

import keras
import numpy as np

from c3d.sport1m_model import C3D_model, create_features_extractor

# Smaller than 16x112x112 to keep the test quick, but with the same pool5 ceil padding.
SHAPE = (16, 56, 56, 3)

JAX_SCRIPT = """
import sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from c3d.sport1m_model import C3D_model, create_features_extractor
weights, clips_path, out_path = sys.argv[1:]
model = C3D_model(weights=weights, num_classes=10, input_shape=(16, 56, 56, 3))
clips = np.load(clips_path)
np.savez(out_path, probs=np.asarray(model.predict_on_batch(clips)),
         fc6=np.asarray(create_features_extractor(model, "fc6").predict_on_batch(clips)),
         padding=np.asarray(model.get_layer("zeropad5").padding))
"""


def test_jax_backend_matches_tensorflow(tmp_path, subprocess_env):
    assert keras.backend.backend() == "tensorflow"
    keras.utils.set_random_seed(11)
    model = C3D_model(num_classes=10, input_shape=SHAPE)
    weights = tmp_path / "small.weights.h5"
    model.save_weights(weights)
    clips = np.random.default_rng(5).uniform(-80, 80, (2, *SHAPE)).astype(np.float32)
    np.save(tmp_path / "clips.npy", clips)

    env = dict(subprocess_env, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            JAX_SCRIPT,
            str(weights),
            str(tmp_path / "clips.npy"),
            str(tmp_path / "jax.npz"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    from_jax = np.load(tmp_path / "jax.npz")

    fc6 = create_features_extractor(model, "fc6").predict_on_batch(clips)
    probs = model.predict_on_batch(clips)
    assert fc6.max() > 0
    np.testing.assert_allclose(from_jax["fc6"], fc6, rtol=1e-4, atol=1e-5 * np.abs(fc6).max())
    np.testing.assert_allclose(from_jax["probs"], probs, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(from_jax["padding"], [[0, 0], [0, 1], [0, 1]])
