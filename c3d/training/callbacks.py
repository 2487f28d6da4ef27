"""Keras callbacks of ``c3d train``: validation, extra metrics, CSV log, best weights, checkpoint.

Validation scores the middle stride-8 clip of each validation video (centre crop),
through the same streaming path and clip format as ``c3d evaluate``. Every file is
written whole to a temporary name and renamed (``c3d.atomic``), so an interrupted run
leaves the previous complete version, never a half-written one. At the end of an epoch
they run in the order validation -> CSV log -> best weights -> checkpoint: a run stopped
in between resumes from the last checkpoint and drops the CSV rows after it.
"""

import contextlib
import csv
import glob
import math
import os
import re

import keras
import numpy as np

from c3d.atomic import atomic_output
from c3d.model.inference import predict_fn
from c3d.video.clips import middle_clip_start
from c3d.video.stream import run_videos

CHECKPOINT_PATTERN = "checkpoint-epoch{epoch:04d}.keras"
_CHECKPOINT_RE = re.compile(r"checkpoint-epoch(\d+)\.keras$")


def checkpoint_path(run_dir, epoch):
    return os.path.join(run_dir, CHECKPOINT_PATTERN.format(epoch=epoch))


def last_checkpoint(run_dir):
    """(epochs completed, path) of the newest checkpoint in ``run_dir``, or None."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(run_dir), "checkpoint-epoch*.keras")):
        match = _CHECKPOINT_RE.search(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return max(found) if found else None


class StreamValidation(keras.callbacks.Callback):
    """``val_loss`` and ``val_accuracy`` of the middle clip of every validation video.

    Frame counts come from ``reader`` (counted once per video, then cached); a video that
    fails is recorded in ``reader.failures`` and left out.
    """

    def __init__(self, video_set, reader, batch_size, workers=None):
        super().__init__()
        self.video_set, self.reader = video_set, reader
        self.batch_size, self.workers = batch_size, workers

    def _middle(self, path):
        return [middle_clip_start(self.reader.frame_count(path), self.reader.format.span)]

    def on_epoch_end(self, epoch, logs=None):
        losses, hits = [], 0
        results = run_videos(
            self.video_set.paths,
            predict_fn(self.model),
            clip_format=self.reader.format,
            batch_size=self.batch_size,
            decoders=self.workers,
            select=self._middle,
        )
        with contextlib.closing(results):
            for result in results:
                if not result.ok:
                    self.reader.failures.record(result.video, result.reason)
                    continue
                probabilities = np.asarray(result.outputs[0], np.float64)
                label = self.video_set.labels[result.index]
                losses.append(-np.log(max(probabilities[label], 1e-7)))
                hits += int(np.argmax(probabilities) == label)
        if logs is not None and losses:
            logs["val_loss"] = float(np.mean(losses))
            logs["val_accuracy"] = hits / len(losses)


class ExtraMetrics(keras.callbacks.Callback):
    """Adds the epoch's learning rate and the count of undecodable videos to the logs."""

    def __init__(self, failures):
        super().__init__()
        self.failures = failures
        self._learning_rate = math.nan

    def on_epoch_begin(self, epoch, logs=None):
        self._learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self._learning_rate
            logs["skipped_videos"] = len(self.failures)


class CSVLog(keras.callbacks.Callback):
    """One row per epoch (1-based ``epoch``), the whole file rewritten atomically each time.

    Resuming at ``initial_epoch`` keeps the rows of the epochs before it.
    """

    def __init__(self, path, initial_epoch=0):
        super().__init__()
        self.path = path
        self.rows = [row for row in read_csv_log(path) if int(row["epoch"]) <= initial_epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({key: float(value) for key, value in sorted((logs or {}).items())})
        self.rows.append(row)
        fields = list(dict.fromkeys(key for r in self.rows for key in r))
        with atomic_output(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.rows)


def read_csv_log(path):
    """The rows of a CSV log as dicts of strings ([] when there is none yet)."""
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class BestWeights(keras.callbacks.Callback):
    """Saves the weights whenever ``monitor`` beats its best so far (ties keep the earlier)."""

    def __init__(self, path, monitor="val_accuracy", best=-math.inf, best_epoch=None):
        super().__init__()
        self.path, self.monitor = path, monitor
        self.best, self.best_epoch = best, best_epoch

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not float(value) > self.best:
            return
        self.best, self.best_epoch = float(value), epoch + 1
        # save_weights of a compiled model writes the optimizer's state too (twice the
        # size); an uncompiled view of the same layers writes the layer weights alone.
        weights_only = keras.Model(self.model.inputs[0], self.model.outputs[0])
        with atomic_output(self.path) as tmp:
            weights_only.save_weights(tmp)


class EpochCheckpoint(keras.callbacks.Callback):
    """The whole model with its optimizer state after every epoch; older ones are removed."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir

    def on_epoch_end(self, epoch, logs=None):
        path = checkpoint_path(self.run_dir, epoch + 1)
        with atomic_output(path) as tmp:
            self.model.save(tmp)
        for old in glob.glob(os.path.join(glob.escape(self.run_dir), "checkpoint-epoch*.keras")):
            if os.path.abspath(old) != os.path.abspath(path):
                os.remove(old)
