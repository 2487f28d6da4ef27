"""``c3d train``: C3D-BN learns from scratch, a frozen C3D learns a new head, resume, evaluate.

The data are synthetic (tests/synthetic_actions.py): four classes told apart only by
motion (a single frame cannot), so chance is 25% and nothing passes by luck.
"""

import csv
import json
import logging
import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest
from synthetic_actions import CLASSES, make_action_videos

from c3d import cli
from c3d.model.builder import C3D_BN
from c3d.training.run import TrainOptions, train

SHAPE = (8, 32, 32)


@pytest.fixture(scope="session")
def actions(tmp_path_factory):
    """Synthetic action videos: train/ (32 per class) and val/ (8 per class)."""
    root = tmp_path_factory.mktemp("actions")
    make_action_videos(root / "train", videos_per_class=32, seed=1)
    make_action_videos(root / "val", videos_per_class=8, seed=2)
    return root


@pytest.fixture(scope="module")
def bn_run(actions, tmp_path_factory):
    """C3D-BN trained from scratch on the synthetic actions: (run dir, summary)."""
    run_dir = tmp_path_factory.mktemp("bn") / "run"
    options = TrainOptions(
        model="c3d_bn",
        clip_shape=SHAPE,
        epochs=4,
        batch_size=8,
        lr=0.002,
        schedule="cosine",
        flip=False,  # left and right are classes
    )
    summary = train(run_dir, options, {"data": actions / "train", "val_dir": actions / "val"})
    return run_dir, summary


def _csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_c3d_bn_learns_moving_directions(bn_run):
    run_dir, summary = bn_run
    rows = _csv_rows(run_dir / "log.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    best = max(float(r["val_accuracy"]) for r in rows)
    assert best >= 0.9, rows
    assert summary["best_val_accuracy"] == pytest.approx(best)
    assert summary["videos"] == 4 * 8 and summary["clips"] > summary["videos"]
    assert summary["video_accuracy"] >= 0.9 and summary["clip_accuracy"] >= 0.85
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "c3d_bn" and config["input_shape"] == list(SHAPE)
    assert config["class_names"] == list(CLASSES)
    assert (run_dir / "classes.txt").read_text().split() == [
        "1",
        "down",
        "2",
        "left",
        "3",
        "right",
        "4",
        "up",
    ]
    assert len((run_dir / "train_list.txt").read_text().splitlines()) == 4 * 32
    with h5py.File(run_dir / "best.weights.h5", "r") as weights:
        assert "optimizer" not in weights  # layer weights only: the checkpoint has the rest
    C3D_BN(num_classes=4, input_shape=(*SHAPE, 3), weights=run_dir / "best.weights.h5")
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == ["checkpoint-epoch0004.keras"]
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert not list(run_dir.glob(".tmp-*"))


def test_evaluate_cli_reproduces_train_accuracy(bn_run, actions, subprocess_env, tmp_path):
    """A separate process rebuilds the model from config.json and scores the same clips."""
    run_dir, summary = bn_run
    command = [sys.executable, "-m", "c3d", "evaluate", str(actions / "val")]
    command += ["--weights", str(run_dir / "best.weights.h5"), "--json", "-o", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, env=subprocess_env, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in ("clip_accuracy", "video_accuracy", "clips", "videos", "skipped_videos"):
        assert report[key] == summary[key], key
    with open(tmp_path / "confusion_matrix.csv", newline="") as f:
        matrix = np.array([[int(v) for v in row[1:]] for row in list(csv.reader(f))[1:]])
    assert matrix.sum() == summary["videos"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(report["video_accuracy"])
    assert (run_dir / "confusion_matrix.csv").read_text() == (
        tmp_path / "confusion_matrix.csv"
    ).read_text()


@pytest.fixture(scope="module")
def small_c3d_weights(tmp_path_factory):
    """Random C3D weights for 8x32x32 clips and 487 classes (He-normal, conv1 scaled for
    0-255 input so that activations stay moderate)."""
    import keras

    from c3d.sport1m_model import C3D_model

    keras.utils.set_random_seed(11)
    model = C3D_model(input_shape=(*SHAPE, 3))
    rng = np.random.default_rng(11)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            fan_in = int(np.prod(kernel.shape[:-1]))
            kernel = rng.standard_normal(kernel.shape, np.float32) * np.sqrt(2.0 / fan_in)
            if layer.name == "conv1":
                kernel /= 64.0
            layer.set_weights([kernel, np.zeros_like(bias)])
    path = tmp_path_factory.mktemp("c3d") / "c3d_small.weights.h5"
    model.save_weights(path)
    return path


def _fold_batchnorm_into_c3d(bn_weights, path):
    """C3D weights computing what trained C3D-BN's conv stack computes, with a random head.

    In inference mode conv -> BN -> ReLU is conv' -> ReLU with kernel' = kernel * s and
    bias' = beta - mean * s, s = gamma / sqrt(var + eps): the stand-in for pretrained
    Sports-1M weights. fc6-fc8 stay random, fc8 Sports-1M-sized (487 classes).
    """
    import keras

    from c3d.model.weights import read_weight_file
    from c3d.sport1m_model import C3D_model

    trained = read_weight_file(bn_weights)
    keras.utils.set_random_seed(3)
    model = C3D_model(input_shape=(*SHAPE, 3))
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv3D):
            (kernel,) = trained[layer.name]
            gamma, beta, mean, variance = trained[f"{layer.name}_bn"]
            scale = gamma / np.sqrt(variance + 1e-3)  # Keras' BatchNormalization epsilon
            layer.set_weights([kernel * scale, beta - mean * scale])
    model.save_weights(path)
    return model


def test_fine_tune_frozen_c3d_learns_a_new_head(bn_run, actions, tmp_path):
    import keras

    from c3d.model.weights import read_weight_file
    from c3d.training.run import build_model

    run_dir, _ = bn_run
    start_path = tmp_path / "pretrained.weights.h5"
    c3d_model = _fold_batchnorm_into_c3d(run_dir / "best.weights.h5", start_path)
    bn_model = build_model("c3d_bn", len(CLASSES), SHAPE)
    bn_model.load_weights(run_dir / "best.weights.h5")
    clips = np.random.default_rng(0).normal(0.0, 60.0, (2, *SHAPE, 3)).astype(np.float32)
    pool5 = [keras.Model(m.inputs[0], m.get_layer("flatten").output) for m in (bn_model, c3d_model)]
    np.testing.assert_allclose(*(np.asarray(f(clips)) for f in pool5), rtol=1e-4, atol=1e-4)

    options = TrainOptions(
        model="c3d",
        weights=str(start_path),
        freeze_until="pool5",
        clip_shape=SHAPE,
        epochs=2,
        batch_size=8,
        lr=0.001,
        schedule="cosine",
        flip=False,
    )
    data = {"data": actions / "train", "val_dir": actions / "val"}
    summary = train(tmp_path / "run", options, data)
    assert summary["best_val_accuracy"] >= 0.9 and summary["video_accuracy"] >= 0.9
    start = read_weight_file(start_path)
    tuned = read_weight_file(tmp_path / "run" / "best.weights.h5")
    for name in ("conv1", "conv3a", "conv5b"):  # frozen
        for before, after in zip(start[name], tuned[name], strict=True):
            np.testing.assert_array_equal(before, after)
    assert not np.array_equal(start["fc6"][0], tuned["fc6"][0])  # loaded, then trained
    assert start["fc8"][0].shape == (4096, 487) and tuned["fc8"][0].shape == (4096, 4)


@pytest.fixture()
def small_actions(tmp_path):
    """3 training and 2 validation videos per class, plus one undecodable video in each."""
    train_dir = make_action_videos(tmp_path / "train", videos_per_class=3, seed=5)
    val_dir = make_action_videos(tmp_path / "val", videos_per_class=2, seed=6)
    (train_dir / "up" / "broken.avi").write_bytes(b"RIFF not really an AVI file" * 10)
    (val_dir / "left" / "broken.avi").write_bytes(b"")
    return train_dir, val_dir


def test_resume_continues_the_epochs_and_the_optimizer(
    small_actions, small_c3d_weights, tmp_path, capsys, caplog
):
    import keras

    train_dir, val_dir = small_actions
    run_dir = tmp_path / "run"
    argv = ["train", str(train_dir), "-o", str(run_dir), "--val-dir", str(val_dir)]
    argv += ["--model", "c3d", "--weights", str(small_c3d_weights), "--freeze-until", "fc7"]
    argv += ["--input-shape", "8,32,32", "--batch-size", "4", "--lr", "0.001"]
    argv += ["--lr-step-epochs", "1", "--lr-gamma", "0.5", "--no-flip", "--json"]
    with caplog.at_level(logging.WARNING):
        assert cli.main([*argv, "--epochs", "2"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [int(r["epoch"]) for r in _csv_rows(run_dir / "log.csv")] == [1, 2]
    # Both broken files are warned about (once in training, the validation one again when
    # the best weights are scored), counted, and never stop an epoch.
    warned = [r.getMessage() for r in caplog.records if "cannot be decoded" in r.getMessage()]
    assert len(warned) == 3
    assert sum(f"{train_dir}/up/broken.avi: not a video" in w for w in warned) == 1
    assert sum(f"{val_dir}/left/broken.avi: empty file" in w for w in warned) == 2
    assert {r["skipped_videos"] for r in _csv_rows(run_dir / "log.csv")} == {"2.0"}
    assert first["videos"] == 8 and first["skipped_videos"] == 1

    # A second run into the same folder must not clobber it; a resumed one keeps its options.
    assert cli.main([*argv, "--epochs", "4"]) == 1
    assert "holds files already (add --resume" in capsys.readouterr().err
    assert cli.main(["train", "-o", str(run_dir), "--resume", "--lr", "0.1"]) == 1
    assert "--lr 0.1 differs from the run's 0.001" in capsys.readouterr().err

    assert cli.main(["train", "-o", str(run_dir), "--resume", "--epochs", "4"]) == 0
    rows = _csv_rows(run_dir / "log.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    # The step schedule halves the rate every epoch: it went on, it did not restart.
    rates = [float(r["learning_rate"]) for r in rows]
    assert rates == pytest.approx([0.001, 0.0005, 0.00025, 0.000125], rel=1e-6)
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == ["checkpoint-epoch0004.keras"]
    steps_per_epoch = (4 * 3) // 4  # 12 decodable training videos, batches of 4
    checkpoint = keras.saving.load_model(run_dir / "checkpoint-epoch0004.keras")
    assert int(checkpoint.optimizer.iterations.numpy()) == 4 * steps_per_epoch
    assert json.loads((run_dir / "config.json").read_text())["options"]["epochs"] == 4


def test_bad_options_fail_before_anything_is_written(small_actions, tmp_path, capsys):
    train_dir, _ = small_actions
    run_dir = tmp_path / "run"
    argv = ["train", str(train_dir), "-o", str(run_dir), "--input-shape", "8,32,32"]
    assert cli.main([*argv, "--freeze-until", "conv9"]) == 1
    assert "--freeze-until conv9: no such layer in c3d_bn; layers are: conv1, " in (
        capsys.readouterr().err
    )
    assert cli.main([*argv, "--input-shape", "4,32,32"]) == 1
    assert "too small for C3D" in capsys.readouterr().err
    assert not run_dir.exists()


def test_unusable_data_is_refused_naming_the_class(small_actions, tmp_path, capsys):
    train_dir, _ = small_actions
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    one_class = tmp_path / "one"
    (one_class / classes[0]).mkdir(parents=True)
    for video in sorted((train_dir / classes[0]).iterdir()):
        (one_class / classes[0] / video.name).write_bytes(video.read_bytes())
    run_dir = tmp_path / "run"
    argv = ["-o", str(run_dir), "--input-shape", "8,32,32", "--val-fraction", "0.5"]
    assert cli.main(["train", str(one_class), *argv]) == 1
    assert f"1 class ('{classes[0]}'); training needs at least 2" in capsys.readouterr().err

    broken = tmp_path / "broken"
    for name in classes[:2]:
        (broken / name).mkdir(parents=True)
        for video in sorted((train_dir / name).iterdir()):
            data = video.read_bytes() if name == classes[0] else b"not a video at all"
            (broken / name / video.name).write_bytes(data)
    assert cli.main(["train", str(broken), *argv]) == 1
    err = capsys.readouterr().err
    assert f"class '{classes[1]}' has no decodable training video" in err
    assert err.count("error:") == 1 and not run_dir.exists()


def test_evaluate_writes_beside_a_run_never_over_it(bn_run, actions, capsys):
    run_dir, _ = bn_run
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    weights = str(run_dir / "best.weights.h5")
    assert cli.main(["evaluate", str(actions / "val"), "--weights", weights, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    folder = pathlib.Path(report["confusion_matrix_csv"]).parent  # new, beside the weights
    assert folder.name.startswith("evaluation-") and folder.parent == run_dir
    assert json.loads((folder / "evaluation.json").read_text())["clips"] == report["clips"]
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert after == before  # the run's own evaluation.json and confusion matrix are untouched
    argv = ["evaluate", str(actions / "val"), "--weights", weights, "-o", str(run_dir)]
    assert cli.main(argv) == 1
    assert "a training run's folder" in capsys.readouterr().err
