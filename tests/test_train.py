"""``c3d train``: C3D-BN learns from scratch, a frozen C3D learns a new head, resume, evaluate.

The data are synthetic (tests/synthetic_actions.py): four classes told apart only by
motion (a single frame cannot), so chance is 25% and nothing passes by luck.
"""

import csv
import json
import logging
import subprocess
import sys

import numpy as np
import pytest
from synthetic_actions import CLASSES, make_action_videos

from c3d import cli
from c3d.training import TrainOptions, train

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
        model="c3d_bn", input_shape=SHAPE, epochs=4, batch_size=4, lr=0.002, schedule="cosine"
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
    assert (run_dir / "classes.txt").read_text().split() == ["1", "down", "2", "sideways", "3", "still", "4", "up"]
    assert len((run_dir / "train_list.txt").read_text().splitlines()) == 4 * 32
    assert (run_dir / "best.weights.h5").is_file()
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
    assert (run_dir / "confusion_matrix.csv").read_text() == (tmp_path / "confusion_matrix.csv").read_text()
