"""``c3d classify`` and ``c3d.classify``: the mean of the clips' softmax, top-k labels."""

import json

import numpy as np
import pytest
from video_helpers import decode_all, make_video

import c3d
from c3d.cli import main
from c3d.model.labels import sports1m_labels
from c3d.model.loader import cached_model


@pytest.fixture(scope="module")
def two_clip_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("classify") / "v.avi", 24, seed=21)


def test_video_class_is_the_mean_of_the_clip_softmax(sport1m_weights, two_clip_video):
    model = cached_model(sport1m_weights)
    result = c3d.classify(two_clip_video, model=model, top=3)
    clip_probabilities = result["clip_probabilities"]
    assert clip_probabilities.shape == (2, 487) and result["starts"].tolist() == [0, 8]
    np.testing.assert_allclose(clip_probabilities.sum(axis=1), 1, rtol=1e-5)
    frames = decode_all(two_clip_video)
    direct = np.asarray(model(c3d.preprocess_input(np.stack([frames[0:16], frames[8:24]]))))
    np.testing.assert_allclose(clip_probabilities, direct, rtol=1e-4, atol=1e-6)

    mean = clip_probabilities.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(result["video_probabilities"], mean, rtol=1e-6)
    best = np.argsort(-mean)[:3]
    assert result["labels"] == [sports1m_labels()[i] for i in best]
    np.testing.assert_allclose(result["probabilities"], mean[best], rtol=1e-6)
    assert list(result["probabilities"]) == sorted(result["probabilities"], reverse=True)


def test_cli_prints_top_k_and_json(sport1m_weights, two_clip_video, capsys):
    options = ["--weights", sport1m_weights, "--batch-size", "2", "--top", "3"]
    assert main(["classify", two_clip_video, *options, "--json"]) == 0
    captured = capsys.readouterr()
    (video,) = json.loads(captured.out)
    reference = c3d.classify(two_clip_video, model=cached_model(sport1m_weights), top=3)
    assert video["path"] == two_clip_video and video["n_frames"] == 24
    assert [entry["label"] for entry in video["top"]] == reference["labels"]
    assert [clip["start"] for clip in video["clips"]] == [0, 8]
    for clip, probabilities in zip(video["clips"], reference["clip_probabilities"], strict=True):
        best = np.argsort(-probabilities)[:3]
        assert [e["label"] for e in clip["top"]] == [sports1m_labels()[i] for i in best]
    assert "done 1, skipped 0, failed 0" in captured.err

    assert main(["classify", two_clip_video, "missing.avi", *options]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith(f"{two_clip_video}  (2 clips, 24 frames)")
    assert [line.split(None, 1)[1] for line in lines[1:4]] == reference["labels"]
    assert len(lines) == 4
    assert "missing.avi: no such file" in captured.err
