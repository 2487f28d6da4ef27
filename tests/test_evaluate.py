"""``c3d evaluate``: clip/video accuracy bookkeeping, confusion matrix files, CLI errors.

The accuracy of a real trained model is checked against ``c3d train`` in test_train.py.
"""

import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from synthetic_actions import write_video
from synthetic_videos import write_video as write_synthetic_video

from c3d import cli
from c3d.training.datasets import VideoSet
from c3d.training.evaluation import evaluate_videos, save_confusion_matrix
from c3d.video.clip_format import ClipFormat

FORMAT = ClipFormat(8, 32, 32)


def _grey_video(path, levels):
    """A video whose frame t is uniformly grey at ``levels[t]`` (MJPG keeps flat grey exact)."""
    frames = np.stack([np.full((48, 64, 3), level, np.uint8) for level in levels])
    write_video(path, frames)
    return str(path)


def _brightness_classifier(calls):
    """Class 0/1/2 for a dark/middle/bright clip, with probability 0.7 (0.15 for the others)."""
    top, left = FORMAT.center_offsets()
    mean_level = float(FORMAT.mean[:, top : top + 32, left : left + 32].mean())

    def predict(batch):
        calls.append(len(batch))
        levels = batch.mean(axis=(1, 2, 3, 4)) + mean_level  # undo the mean subtraction
        classes = np.digitize(levels, [85, 170])
        probabilities = np.full((len(batch), 3), 0.15)
        probabilities[np.arange(len(batch)), classes] = 0.7
        return probabilities

    return predict


# Run in a child, so that its peak RSS (VmHWM) is this work's alone. No TensorFlow loads
# (decoders are given, so nothing probes for a GPU): numpy and OpenCV buffers dominate.
_MEMORY_CHILD = """
import sys, time
import numpy as np
from c3d.training.datasets import VideoSet
from c3d.training.evaluation import evaluate_videos
from c3d.video.clip_format import ClipFormat
from c3d.video.decode import iter_frames, open_video

path, mode = sys.argv[1:]
if mode == "evaluate":
    def slow_model(batch):  # slower than decoding, so the bounded queues fill up
        time.sleep(0.1)
        return np.ones((len(batch), 1))
    videos = VideoSet([path], [0], ["only"])
    result = evaluate_videos(slow_model, videos, ClipFormat(), batch_size=4, workers=1,
                             progress=False)
    assert result.clips > 0 and not result.skipped
else:  # what evaluate did before: hold every resized frame of the video
    held = [ClipFormat().resize(frame) for frame in iter_frames(open_video(path))]
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) * 1024)
"""


def _peak_rss(path, mode, env):
    # A fixed mmap threshold: glibc otherwise raises it to the size of freed buffers and
    # keeps freed 2.4 MB clips cached per thread, which moved this peak by up to 40 MB
    # between two runs of the same video; with it, RSS is the live buffers (measured flat,
    # 141-144 MB, from 100 to 4,800 frames).
    env = dict(env, MALLOC_MMAP_THRESHOLD_="131072")
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(path), mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.split()[-1])


def test_memory_does_not_grow_with_video_length(tmp_path, subprocess_env):
    """A 2,400-frame video peaks no higher than an 800-frame one, give or take a fraction of
    what holding its 1,600 extra frames would cost.

    Both peak at 139 MB on a quiet machine. The slack is for a loaded one, where decoding
    can fall behind the slow model so that the shorter video ends before the bounded queues
    are full: its peak was measured 22 MB lower then.
    """
    frame_bytes = 128 * 171 * 3  # a resized uint8 frame
    short = write_synthetic_video(tmp_path / "short.mp4", 800, size=(320, 240))
    long = write_synthetic_video(tmp_path / "long.mp4", 2400, size=(320, 240))
    peak_short = _peak_rss(short, "evaluate", subprocess_env)
    peak_long = _peak_rss(long, "evaluate", subprocess_env)
    assert peak_long - peak_short < 0.25 * 1600 * frame_bytes, (peak_short, peak_long)
    # Negative control: holding a video's resized frames grows with its length (158 MB for
    # 2,400 frames), and this measure sees it.
    held = _peak_rss(long, "hold", subprocess_env)
    assert held - peak_short > 0.5 * 2400 * frame_bytes, (peak_short, held)


def test_clip_and_video_accuracy_and_confusion(tmp_path):
    videos = VideoSet(
        paths=[
            _grey_video(tmp_path / "a.avi", [40] * 24),  # clips 0, 8, 16: dark dark dark
            _grey_video(tmp_path / "b.avi", [120] * 16 + [220] * 8),  # mid mid bright
            _grey_video(tmp_path / "c.avi", [220] * 8 + [40] * 16),  # bright dark dark
            _grey_video(tmp_path / "d.avi", [120] * 5),  # shorter than a clip: one, padded
            str(tmp_path / "missing.avi"),
        ],
        labels=[0, 1, 2, 1, 0],
        class_names=["dark", "mid", "bright"],
    )
    calls = []
    result = evaluate_videos(
        _brightness_classifier(calls), videos, FORMAT, batch_size=4, workers=2, progress=False
    )
    assert result.clips == 10 and sum(calls) == 10 and max(calls) == 4
    assert result.clip_accuracy == pytest.approx(7 / 10)  # 3 + 2 + 1 + 1 clips right
    # b: mean softmax favours "mid" (2 of 3 clips); c: "dark" wins, wrongly.
    assert result.video_predictions == [0, 1, 0, 1]
    assert result.video_accuracy == pytest.approx(3 / 4)
    assert list(result.skipped) == [str(tmp_path / "missing.avi")]
    assert result.summary()["skipped_videos"] == 1
    expected = np.zeros((3, 3), int)
    expected[0, 0], expected[1, 1], expected[2, 0] = 1, 2, 1
    np.testing.assert_array_equal(result.confusion_matrix, expected)

    csv_path, png_path = save_confusion_matrix(result, tmp_path / "out")
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["true \\ predicted", "dark", "mid", "bright"]
    assert [[int(v) for v in row[1:]] for row in rows[1:]] == expected.tolist()
    image = cv2.imread(png_path)
    assert image is not None and min(image.shape[:2]) > 100
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "confusion_matrix.csv",
        "confusion_matrix.png",
    ]


@pytest.fixture(scope="module")
def small_bn_weights(tmp_path_factory):
    """Random C3D-BN weights for 8x32x32 clips and 2 classes, in a folder without config."""
    import keras

    from c3d.training.run import build_model

    keras.utils.set_random_seed(5)
    model = build_model("c3d_bn", 2, (8, 32, 32))
    path = tmp_path_factory.mktemp("bn") / "model.weights.h5"
    model.save_weights(path)
    return path


def _class_folders(root, names):
    rng = np.random.default_rng(0)
    for name in names:
        (root / name).mkdir(parents=True)
        for index in range(2):
            _grey_video(root / name / f"{index}.avi", rng.integers(0, 255, size=10))
    return root


def test_cli_json_with_flags_for_a_bare_weights_file(tmp_path, small_bn_weights, capsys):
    data = _class_folders(tmp_path / "data", ["left", "right"])
    argv = ["evaluate", str(data), "--weights", str(small_bn_weights), "--model", "c3d_bn"]
    argv += ["--input-shape", "8,32,32", "--json", "-o", str(tmp_path / "cm")]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["videos"] == 4 and report["clips"] == 4 and report["skipped_videos"] == 0
    assert 0.0 <= report["clip_accuracy"] <= 1.0 and 0.0 <= report["video_accuracy"] <= 1.0
    assert (tmp_path / "cm" / "confusion_matrix.csv").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input-shape", "16,112,112"], "fc6 has weights of shape"),
        (["--input-shape", "8,32"], "--input-shape must be T,H,W"),
    ],
)
def test_cli_wrong_model_shape_is_one_line_error(
    tmp_path, small_bn_weights, capsys, extra, message
):
    data = _class_folders(tmp_path / "data", ["left", "right"])
    argv = ["evaluate", str(data), "--weights", str(small_bn_weights), "--model", "c3d_bn"]
    assert cli.main(argv + extra) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("c3d evaluate: error: ") and message in err[-1]


def test_cli_class_count_mismatch_and_missing_weights(tmp_path, small_bn_weights, capsys):
    data = _class_folders(tmp_path / "data", ["a", "b", "c"])
    argv = ["evaluate", str(data), "--model", "c3d_bn", "--input-shape", "8,32,32"]
    assert cli.main([*argv, "--weights", str(small_bn_weights)]) == 1
    assert "fc8 has 2 classes, 3 expected" in capsys.readouterr().err
    assert cli.main([*argv, "--weights", str(tmp_path / "none.weights.h5")]) == 1
    assert "none.weights.h5: no such weights file" in capsys.readouterr().err
