"""Features through the real (full-size, random-weight) C3D: equal to the model run directly."""

import numpy as np
import pytest
from video_helpers import decode_all, make_video

import c3d
from c3d.model.loader import cached_model
from c3d.video.decode import VideoError
from conftest import BASEBALL_VIDEO


@pytest.fixture(scope="module")
def model(sport1m_weights):
    return cached_model(sport1m_weights)


def direct_features(model, clips, layer="fc6"):
    """The model run by hand on raw frames: preprocess_input, then the layer's output."""
    extractor = c3d.create_features_extractor(model, layer)
    return np.asarray(extractor(c3d.preprocess_input(clips), training=False))


def assert_features_equal(actual, expected):
    # Same inputs (tests/test_pipeline.py checks them bit for bit); the model may group
    # its sums differently for other batch sizes, hence a float32-rounding tolerance.
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_baseball_clips_equal_the_model_on_preprocessed_frames(model):
    out = c3d.extract_features(BASEBALL_VIDEO, model=model, layer="fc6", stride=8)
    assert out["starts"].tolist() == [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88]
    assert out["n_frames"] == 107 and not out["padded"]
    assert out["fps"] == pytest.approx(29.97, abs=0.01)
    assert out["clips"].shape == (12, 4096) and out["clips"].dtype == np.float32

    frames = decode_all(BASEBALL_VIDEO)
    chosen = [0, 5, 11]  # first, middle, last clip: the rest come the same way
    clips = np.stack([frames[out["starts"][i] : out["starts"][i] + 16] for i in chosen])
    assert_features_equal(out["clips"][chosen], direct_features(model, clips))
    assert np.abs(out["clips"][0] - out["clips"][11]).max() > 1e-3  # features vary by clip

    mean = out["clips"].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(out["video"], mean / np.linalg.norm(mean), rtol=1e-5, atol=1e-7)
    assert abs(np.linalg.norm(out["video"].astype(np.float64)) - 1) < 1e-6


def test_short_video_is_one_clip_padded_with_its_last_frame(model, tmp_path):
    path = make_video(tmp_path / "ten.avi", 10, seed=7)
    out = c3d.extract_features(path, model=model, layer="pool5")
    assert out["padded"] and out["n_frames"] == 10 and out["starts"].tolist() == [0]
    assert out["clips"].shape == (1, 8192)  # pool5, flattened
    frames = decode_all(path)
    clip = np.concatenate([frames, np.repeat(frames[-1:], 6, axis=0)])[None]
    expected = direct_features(model, clip, "flatten")
    assert_features_equal(out["clips"], expected)

    # a feature extractor can be given instead of the full model
    fc7_extractor = c3d.create_features_extractor(model, "fc7")
    from_extractor = c3d.extract_features(path, model=fc7_extractor)
    from_full_model = c3d.extract_features(path, model=model, layer="fc7")
    assert from_extractor["clips"].shape == (1, 4096)
    np.testing.assert_array_equal(from_extractor["clips"], from_full_model["clips"])


def test_empty_video_raises_with_the_reason(model, tmp_path):
    path = make_video(tmp_path / "none.avi", 0)
    with pytest.raises(VideoError, match=r"none\.avi: no frames could be decoded"):
        c3d.extract_features(path, model=model)
    with pytest.raises(VideoError, match="no such file"):
        c3d.extract_features(tmp_path / "missing.mp4", model=model)


def test_missing_default_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("C3D_HOME", str(tmp_path / "cache"))
    expected = tmp_path / "cache" / "c3d_sports1m.weights.h5"
    with pytest.raises(c3d.errors.C3DError) as caught:
        c3d.extract_features(BASEBALL_VIDEO)
    message = str(caught.value)
    assert message.startswith(f"{expected}: no such weights file")
    assert "`c3d fetch-weights`" in message and "\n" not in message
