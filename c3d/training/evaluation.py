"""Clip accuracy, video accuracy and the confusion matrix of a classifier over labelled videos.

Every video is cut into all its stride-8 clips (starts 0, 8, 16, … while start + T <=
frames; a video shorter than T gives one clip padded with its last frame), each clip
normalised with the centre crop. Clip accuracy counts clips; a video's prediction is the
mean softmax over its clips (the C3D paper's video-level protocol), and the confusion
matrix counts videos.
"""

import contextlib
import dataclasses
import os

import numpy as np
from tqdm import tqdm

from c3d.atomic import atomic_output
from c3d.training.datasets import DecodeFailures
from c3d.video.clips import DEFAULT_STRIDE
from c3d.video.stream import run_videos


@dataclasses.dataclass
class EvaluationResult:
    class_names: list
    clips: int
    clips_correct: int
    video_labels: list
    video_predictions: list
    skipped: dict

    @property
    def clip_accuracy(self):
        return self.clips_correct / self.clips if self.clips else 0.0

    @property
    def video_accuracy(self):
        if not self.video_labels:
            return 0.0
        hits = sum(p == t for p, t in zip(self.video_predictions, self.video_labels, strict=True))
        return hits / len(self.video_labels)

    @property
    def confusion_matrix(self):
        """(classes, classes) video counts: row = true class, column = predicted class."""
        size = len(self.class_names)
        matrix = np.zeros((size, size), np.int64)
        for true, predicted in zip(self.video_labels, self.video_predictions, strict=True):
            matrix[true, predicted] += 1
        return matrix

    def summary(self):
        return {
            "clip_accuracy": self.clip_accuracy,
            "video_accuracy": self.video_accuracy,
            "clips": self.clips,
            "videos": len(self.video_labels),
            "skipped_videos": len(self.skipped),
        }


def evaluate_videos(
    predict,
    video_set,
    clip_format,
    batch_size=16,
    stride=DEFAULT_STRIDE,
    workers=None,
    progress=True,
    failures=None,
):
    """Score ``predict`` (batch of clips -> softmax) on a VideoSet; returns EvaluationResult.

    The videos run through the streaming path (``c3d.video.stream``), so memory stays
    bounded whatever their length; ``workers`` is its number of decoders.
    """
    failures = DecodeFailures() if failures is None else failures
    num_classes = len(video_set.class_names)
    video_probabilities = {}
    clips = clips_correct = 0
    results = run_videos(
        video_set.paths,
        predict,
        stride=stride,
        clip_format=clip_format,
        batch_size=batch_size,
        decoders=workers,
        pad_last=False,  # scores are per clip: padding would only cost time
    )
    bar = tqdm(total=len(video_set), desc="evaluating", unit="video", disable=not progress)
    with contextlib.closing(results), bar:
        for result in results:
            bar.update(1)
            if not result.ok:
                failures.record(result.video, result.reason)
                continue
            probabilities = np.asarray(result.outputs, np.float64).reshape(-1, num_classes)
            label = video_set.labels[result.index]
            clips += len(probabilities)
            clips_correct += int((probabilities.argmax(axis=1) == label).sum())
            video_probabilities[result.index] = probabilities.mean(axis=0)
    scored = sorted(video_probabilities)
    return EvaluationResult(
        class_names=list(video_set.class_names),
        clips=clips,
        clips_correct=clips_correct,
        video_labels=[video_set.labels[i] for i in scored],
        video_predictions=[int(np.argmax(video_probabilities[i])) for i in scored],
        skipped=failures.reasons,
    )


def save_confusion_matrix(result, directory, stem="confusion_matrix"):
    """Write the confusion matrix as CSV (counts) and PNG (row-normalised); return the paths."""
    import csv

    csv_path = os.path.join(directory, f"{stem}.csv")
    png_path = os.path.join(directory, f"{stem}.png")
    matrix = result.confusion_matrix
    with atomic_output(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["true \\ predicted", *result.class_names])
        for name, row in zip(result.class_names, matrix, strict=True):
            writer.writerow([name, *row.tolist()])
    with atomic_output(png_path) as tmp:
        _plot_confusion(matrix, result.class_names).savefig(tmp, format="png")
    return csv_path, png_path


def _plot_confusion(matrix, class_names):
    # The object-oriented Agg API: no pyplot, no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = len(class_names)
    rows = matrix.sum(axis=1, keepdims=True)
    fraction = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    side = min(40.0, 3.0 + 0.25 * size)
    figure = Figure(figsize=(side, side), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, label="fraction of the true class")
    ticks = np.arange(size)
    font = max(4, min(10, 400 // max(size, 1)))
    axes.set_xticks(ticks, class_names, rotation=90, fontsize=font)
    axes.set_yticks(ticks, class_names, fontsize=font)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if size <= 20:
        for true in range(size):
            for predicted in range(size):
                colour = "white" if fraction[true, predicted] > 0.5 else "black"
                axes.text(
                    predicted,
                    true,
                    str(matrix[true, predicted]),
                    ha="center",
                    va="center",
                    color=colour,
                    fontsize=font,
                )
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axes.set_title(f"video accuracy {accuracy:.3f} ({matrix.sum()} videos)")
    return figure
