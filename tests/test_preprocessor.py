"""The mean inside the inference graph: uint8 crops to the model, the same features as the
CPU's float32 subtraction, through the API and the CLI, the mean subtracted exactly once.
(JAX and torch: tests/test_backends.py's child script checks the same in those backends.)"""

import keras
import numpy as np
import pytest
from video_helpers import decode_all

import c3d
from c3d.cli import main
from c3d.extraction.features import clip_format_for, run_one
from c3d.extraction.writers import read_npz
from c3d.model import inference
from c3d.model.builder import feature_model
from c3d.model.loader import cached_model
from c3d.model.preprocessor import ViewMeanSubtraction, with_view_means
from c3d.pipeline.batching import model_input, uint8_input
from c3d.video.clip_format import ClipFormat
from conftest import BASEBALL_VIDEO, MAKEUP_VIDEO

STRIDE, BATCH = 80, 2  # 2 clips of each test video: one model call each
VIDEOS = (BASEBALL_VIDEO, MAKEUP_VIDEO)


def relative_errors(got, want):
    """Per clip: |got - want| / |want| (L2 norms)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    got, want = got.reshape(len(got), -1), want.reshape(len(want), -1)
    return np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)


@pytest.mark.parametrize("crops", [1, 10])
def test_the_graph_subtracts_exactly_what_the_cpu_does_and_padding_stays_zero(crops):
    clip_format = ClipFormat(16, 56, 56, crops=crops)
    rng = np.random.default_rng(crops)
    rows = rng.integers(0, 256, (5, *clip_format.input_shape), dtype=np.uint8)
    views = rng.integers(0, crops, 3)
    want = model_input(rows, views, clip_format, batch_size=5)  # the CPU's: 3 rows, 2 zero

    layer = ViewMeanSubtraction(clip_format.view_means)
    got = keras.ops.convert_to_numpy(layer(*uint8_input(rows, views, clip_format, 5)))
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got, want)  # bit for bit, padding rows 0.0 included
    assert not np.any(got[3:])
    with pytest.raises(TypeError, match="uint8"):  # a subtracted clip cannot come in again
        layer(want, np.zeros(5, np.int32))


@pytest.fixture(scope="module")
def model(sport1m_weights):
    return cached_model(sport1m_weights)


@pytest.fixture(scope="module")
def cpu_features(model):
    """Each test video's fc6 as before the mean moved: float32 subtracted on the CPU (a
    plain predict function, which ``model_rows`` feeds float clips)."""
    extractor = feature_model(model, "fc6")
    float_only = inference.predict_fn(extractor).__call__  # a bound method: no on_view_crops
    clip_format = clip_format_for(extractor)
    return {
        video.name: run_one(
            video, float_only, clip_format=clip_format, stride=STRIDE, batch_size=BATCH
        ).outputs
        for video in VIDEOS
    }


@pytest.fixture()
def uint8_calls(monkeypatch):
    """The dtypes of the batches that took the uint8 path (``Predictor.on_view_crops``)."""
    calls = []
    original = inference.Predictor.on_view_crops

    def spy(self, crops, views, clip_format):
        calls.append(str(crops.dtype))
        return original(self, crops, views, clip_format)

    monkeypatch.setattr(inference.Predictor, "on_view_crops", spy)
    return calls


def test_api_and_cli_send_uint8_and_give_todays_features(
    model, sport1m_weights, cpu_features, uint8_calls, tmp_path
):
    for video in VIDEOS:
        got = c3d.extract_features(video, model=model, stride=STRIDE, batch_size=BATCH)
        assert relative_errors(got["clips"], cpu_features[video.name]).max() <= 1e-6
    assert uint8_calls and set(uint8_calls) == {"uint8"}

    del uint8_calls[:]
    args = ["--weights", sport1m_weights, "--stride", STRIDE, "--batch-size", BATCH]
    assert main(["extract", *map(str, VIDEOS), "-o", str(tmp_path), *map(str, args)]) == 0
    for video in VIDEOS:
        got = read_npz(tmp_path / f"{video.name}.npz")["clips"]
        assert relative_errors(got, cpu_features[video.name]).max() <= 1e-6
    assert uint8_calls and set(uint8_calls) == {"uint8"}


def test_a_mean_subtracted_twice_or_not_at_all_would_be_caught(model, cpu_features):
    """The control: the 1e-6 bound above tells the right input from a wrong mean."""
    extractor = feature_model(model, "fc6")
    predictor = inference.predict_fn(extractor)
    clip_format = clip_format_for(extractor)
    frames = np.stack([clip_format.resize(frame) for frame in decode_all(BASEBALL_VIDEO)])
    rows = np.stack([clip_format.view_crops(frames[s : s + 16])[0] for s in (0, STRIDE)])
    views = [0, 0]
    once = model_input(rows, views, clip_format)
    want = cpu_features[BASEBALL_VIDEO.name]
    assert relative_errors(predictor(once), want).max() <= 1e-6  # the right input
    twice = once - clip_format.view_means[0]
    none = rows.astype(np.float32)
    assert relative_errors(predictor(twice), want).min() > 1e-2
    assert relative_errors(predictor(none), want).min() > 1e-2
    with pytest.raises(TypeError, match="uint8"):  # no second subtraction in the graph
        predictor.on_view_crops(once, views, clip_format)
    # the graph holds one subtraction; the model users build holds none
    layers = with_view_means(extractor, clip_format.view_means).layers
    assert sum(isinstance(layer, ViewMeanSubtraction) for layer in layers) == 1
    assert not any(isinstance(layer, ViewMeanSubtraction) for layer in model.layers)
