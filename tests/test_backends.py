"""JAX and torch: the model, ``c3d extract``/``classify`` and the API, without TensorFlow.

Each backend runs in a child process (Keras picks its backend once, at import) and its
outputs are compared with the TensorFlow backend's, computed here.
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import c3d
from c3d.extraction.writers import read_npz
from c3d.model.loader import cached_model
from c3d.sport1m_model import C3D_model, create_features_extractor
from conftest import BASEBALL_VIDEO, MAKEUP_VIDEO

BACKENDS = ("jax", "torch")

# Smaller than 16x112x112 to keep the test quick, but with the same pool5 ceil padding.
SHAPE = (16, 56, 56, 3)

MODEL_SCRIPT = """
import sys
import numpy as np
import keras
backend = sys.argv[4]
assert keras.backend.backend() == backend, keras.backend.backend()
from c3d.model.inference import make_predict_fn
from c3d.sport1m_model import C3D_model, create_features_extractor
weights, clips_path, out_path = sys.argv[1:4]
model = C3D_model(weights=weights, num_classes=10, input_shape=(16, 56, 56, 3))
clips = np.load(clips_path)
fc6 = make_predict_fn(create_features_extractor(model, "fc6"))(clips)
assert fc6.dtype == np.float32, fc6.dtype
np.savez(out_path, probs=make_predict_fn(model)(clips), fc6=fc6,
         padding=np.asarray(model.get_layer("zeropad5").padding),
         tf_loaded="tensorflow" in sys.modules)
"""


def backend_env(subprocess_env, backend):
    return dict(subprocess_env, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu")


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_on_another_backend_matches_tensorflow(tmp_path, subprocess_env, backend):
    assert keras.backend.backend() == "tensorflow"
    keras.utils.set_random_seed(11)
    model = C3D_model(num_classes=10, input_shape=SHAPE)
    weights = tmp_path / "small.weights.h5"
    model.save_weights(weights)
    clips = np.random.default_rng(5).uniform(-80, 80, (2, *SHAPE)).astype(np.float32)
    np.save(tmp_path / "clips.npy", clips)
    out = tmp_path / "out.npz"
    command = [sys.executable, "-c", MODEL_SCRIPT, str(weights), str(tmp_path / "clips.npy")]
    result = subprocess.run(
        [*command, str(out), backend],
        env=backend_env(subprocess_env, backend),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    got = np.load(out)

    fc6 = create_features_extractor(model, "fc6").predict_on_batch(clips)
    probs = model.predict_on_batch(clips)
    assert fc6.max() > 0
    np.testing.assert_allclose(got["fc6"], fc6, rtol=1e-4, atol=1e-5 * np.abs(fc6).max())
    np.testing.assert_allclose(got["probs"], probs, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(got["padding"], [[0, 0], [0, 1], [0, 1]])
    assert not got["tf_loaded"]


# --- end to end: the commands and the API, full-size model --------------------------------

STRIDE, BATCH = 80, 2  # 2 clips of each test video: one model call each

DRIVER = """
import contextlib, io, json, sys
import c3d
from c3d.cli import main
from c3d.model import inference

report, out_dir, weights, stride, batch, *videos = sys.argv[1:]
uint8_calls = []  # the batches that took the uint8 path: the mean in the model's graph
on_view_crops = inference.Predictor.on_view_crops
def spy(self, crops, views, clip_format):
    uint8_calls.append(str(crops.dtype))
    return on_view_crops(self, crops, views, clip_format)
inference.Predictor.on_view_crops = spy
common = ["--weights", weights, "--stride", stride, "--batch-size", batch]
codes = [main(["extract", *videos, "-o", out_dir, *common])]
stdout = io.StringIO()
with contextlib.redirect_stdout(stdout):
    codes.append(main(["classify", *videos, "--json", "--top", "487", *common]))
options = dict(weights=weights, stride=int(stride), batch_size=int(batch))
features = c3d.extract_features(videos[0], **options)
classes = c3d.classify(videos[0], **options)
# Today's features: the mean subtracted on the CPU (a plain function gets float clips).
from c3d.extraction.features import clip_format_for, run_one
from c3d.model.builder import feature_model
from c3d.model.loader import cached_model
extractor = feature_model(cached_model(weights), "fc6")
float_only = inference.predict_fn(extractor).__call__
cpu_fc6 = {
    video.rsplit("/", 1)[-1]: run_one(
        video, float_only, clip_format=clip_format_for(extractor), stride=int(stride),
        batch_size=int(batch),
    ).outputs.tolist()
    for video in videos
}
import keras
with open(report, "w") as f:
    json.dump({
        "codes": codes,
        "classify": json.loads(stdout.getvalue()),
        "api_fc6": features["clips"].tolist(),
        "api_probabilities": classes["clip_probabilities"].tolist(),
        "cpu_mean_fc6": cpu_fc6,
        "uint8_calls": uint8_calls,
        "backend": keras.backend.backend(),
        "tensorflow": sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow"),
    }, f)
"""


@pytest.fixture(scope="module")
def tensorflow_reference(sport1m_weights):
    """fc6 and class probabilities of each clip of the two videos, on TensorFlow."""
    model = cached_model(sport1m_weights)
    reference = {}
    for video in (MAKEUP_VIDEO, BASEBALL_VIDEO):
        options = dict(model=model, stride=STRIDE, batch_size=BATCH)
        features = c3d.extract_features(video, **options)
        classes = c3d.classify(video, **options)
        reference[video.name] = (features["clips"], classes["clip_probabilities"])
    return reference


def relative_errors(got, want):
    """Per clip: |got - want| / |want| (L2 norms)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_extract_and_classify_end_to_end_without_tensorflow(
    tmp_path, subprocess_env, sport1m_weights, tensorflow_reference, backend
):
    report = tmp_path / "report.json"
    out = tmp_path / "features"
    videos = [str(MAKEUP_VIDEO), str(BASEBALL_VIDEO)]
    settings = [str(STRIDE), str(BATCH)]
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(report), str(out), sport1m_weights, *settings, *videos],
        env=backend_env(subprocess_env, backend),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads(report.read_text())
    assert run["backend"] == backend
    assert run["tensorflow"] == []  # not imported, not even in part
    assert run["codes"] == [0, 0]

    for video, classified in zip(videos, run["classify"], strict=True):
        name = video.rsplit("/", 1)[-1]
        want_fc6, want_probabilities = tensorflow_reference[name]
        features = read_npz(out / f"{name}.npz")
        assert features["clips"].dtype == np.float32
        assert features["starts"].tolist() == list(range(0, len(want_fc6) * STRIDE, STRIDE))
        # fp32 on another backend: the same numbers up to summation order
        assert relative_errors(features["clips"], want_fc6).max() < 1e-5
        # the mean in the graph (uint8 batches): this backend's own CPU-mean features
        assert relative_errors(features["clips"], run["cpu_mean_fc6"][name]).max() <= 1e-6
        # --top 487 lists every class: the video's probabilities, to 6 decimals
        probabilities = {e["label"]: e["probability"] for e in classified["top"]}
        labels = c3d.sports1m_labels()
        want_video = want_probabilities.mean(axis=0)
        got_video = np.array([probabilities[label] for label in labels])
        np.testing.assert_allclose(got_video, want_video, atol=2e-6)
    want_fc6, want_probabilities = tensorflow_reference[MAKEUP_VIDEO.name]
    assert relative_errors(run["api_fc6"], want_fc6).max() < 1e-5
    cpu_mean_fc6 = run["cpu_mean_fc6"][MAKEUP_VIDEO.name]
    assert relative_errors(run["api_fc6"], cpu_mean_fc6).max() <= 1e-6
    assert run["uint8_calls"] and set(run["uint8_calls"]) == {"uint8"}
    np.testing.assert_allclose(run["api_probabilities"], want_probabilities, atol=1e-6)
    # the control: the bound tells clips apart (neighbouring clips differ by far more)
    assert relative_errors(want_fc6[1:], want_fc6[:-1]).min() > 1e-2
