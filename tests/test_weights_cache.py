"""Weights by name, like keras.applications: ``sports1m`` is the converted file in the cache.

The cache is ``$C3D_HOME``, else ``~/.keras/models``; a missing file is one line naming
``c3d fetch-weights`` (what works after a plain ``pip install``); a path still works
wherever a name does. ``c3d extract`` without ``--weights`` finds the weights from any
working directory.
"""

import os

import numpy as np
import pytest
from converter_helpers import assert_one_line_error, run_c3d, unused_port_url
from keras2_files import write_keras224_weights
from video_helpers import make_video

import c3d
from c3d.errors import C3DError
from c3d.extraction.writers import read_npz
from c3d.model.loader import DEFAULT_WEIGHTS, resolve_weights
from c3d.model.presets import cache_dir
from c3d.model.weights import WeightsFileError, read_weight_file

FILE_NAME = "c3d_sports1m.weights.h5"  # the file the issue names


@pytest.fixture()
def cache(tmp_path, monkeypatch, sport1m_weights):
    """A cache folder ($C3D_HOME) holding the session's random Sports-1M weights."""
    folder = tmp_path / "cache"
    folder.mkdir()
    os.symlink(sport1m_weights, folder / FILE_NAME)
    monkeypatch.setenv("C3D_HOME", str(folder))
    return folder


def test_the_default_is_the_name_sports1m():
    assert DEFAULT_WEIGHTS == "sports1m"


def test_a_name_is_the_file_in_c3d_home(cache):
    assert resolve_weights("sports1m") == str(cache / FILE_NAME)


def test_without_c3d_home_the_cache_is_keras_models(tmp_path, monkeypatch):
    monkeypatch.delenv("C3D_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == str(tmp_path / ".keras" / "models")
    with pytest.raises(C3DError) as caught:
        resolve_weights("sports1m")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / '.keras' / 'models' / FILE_NAME}: no such weights")
    assert "get them with `c3d fetch-weights`" in message and "\n" not in message


def test_a_path_still_works(sport1m_weights, tmp_path):
    assert resolve_weights(sport1m_weights) == sport1m_weights
    assert resolve_weights(os.path.relpath(sport1m_weights)) == os.path.relpath(sport1m_weights)
    with pytest.raises(C3DError, match="none.h5: no such weights file"):
        resolve_weights(tmp_path / "none.h5")


def test_c3d_model_takes_the_name(cache, sport1m_weights):
    from c3d import C3D_BN, C3D_model

    model = C3D_model(weights="sports1m")
    expected = read_weight_file(sport1m_weights)
    for name in ("conv1", "fc6", "fc8"):
        for a, b in zip(model.get_layer(name).get_weights(), expected[name], strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="the 'sports1m' weights are C3D's, without BatchNorm"):
        C3D_BN(weights="sports1m")


def test_extract_from_another_folder_finds_the_cached_weights(cache, tmp_path):
    video = make_video(tmp_path / "videos" / "clip.avi", 16)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_c3d("extract", video, "-o", "features", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    features = read_npz(elsewhere / "features" / "clip.avi.npz")
    assert features["clips"].shape == (1, 4096) and features["clips"].max() > 0

    empty = tmp_path / "empty_cache"
    empty.mkdir()
    result = run_c3d("extract", video, "-o", "features2", cwd=elsewhere, env={"C3D_HOME": empty})
    assert_one_line_error(
        result, f"{empty / FILE_NAME}: no such weights file", "`c3d fetch-weights`"
    )


def test_fetch_weights_writes_into_the_cache_by_default(tmp_path):
    """Offline, its message names the cache folder it would have filled."""
    url = unused_port_url("/conv3d")
    result = run_c3d("fetch-weights", "--url", url, env={"C3D_HOME": tmp_path / "cache"})
    assert_one_line_error(result, str(tmp_path / "cache" / "conv3d_deepnetA_sport1m_iter_1900000"))


def test_classify_refuses_weights_without_fc8(tmp_path):
    """A file converted from a headless source gives features, not classes."""
    conv1 = [np.zeros((3, 3, 3, 3, 64), np.float32), np.zeros(64, np.float32)]
    path = write_keras224_weights(tmp_path / "headless.h5", {"conv1": conv1}, ["conv1"])
    video = make_video(tmp_path / "clip.avi", 16)
    with pytest.raises(WeightsFileError, match="headless.h5: has no fc8"):
        c3d.classify(video, weights=path)


def test_train_takes_the_name_and_saves_the_file(cache, monkeypatch, tmp_path):
    from c3d.training.run import TrainOptions

    options = TrainOptions(model="c3d", weights="sports1m").resolved()
    assert options.weights == str(cache / FILE_NAME)  # absolute: config.json keeps it
    monkeypatch.setenv("C3D_HOME", str(tmp_path / "nothing_here"))
    with pytest.raises(C3DError, match="`c3d fetch-weights`"):
        TrainOptions(model="c3d", weights="sports1m").resolved()
