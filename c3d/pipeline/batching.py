"""Clip views → fixed-size batches of rows → the model's input and output rows.

A row is one view of one clip, tagged ``(video index, start, part, view)``. Rows travel
as uint8 crops up to the model. ``model_rows`` makes a batch of exactly ``batch_size``
rows — zero rows after the real ones, unless ``pad_last`` is off — and runs the model on
it, one of two ways:

- the predict has ``on_view_crops`` (``c3d.model.inference.Predictor``, what every c3d
  command and the API use): the uint8 rows and their views go to the model, whose graph
  subtracts each row's view mean (``c3d.model.preprocessor``) on its device. Padding rows
  are zero crops of view ``n_views``, whose mean is zero: they are 0.0 there too.
- a plain ``f(batch float32)`` (a script's own function, a stand-in): each row minus its
  view's mean on the CPU (``ClipFormat.subtract_view_means``, float32 as Caffe did).

Both give the model the same float32 numbers, bit for bit (tests/test_preprocessor.py).

Why every batch has the same shape: batches span video boundaries, so where a clip lands
in a batch depends on which videos came before it (e.g. on which were skipped on a
resumed run, or which rows a Ray actor was handed). Backends pick their kernels by shape
(oneDNN computes a batch of 1 differently from larger ones, cuDNN autotunes per shape),
but a given kernel computes each sample of a batch the same way wherever it sits (checked
on CPU by tests/test_extract_cli.py). So a clip's features do not depend on its batch,
and both schedulers and a resumed run write bit-identical outputs for one
``--batch-size``.
"""

import dataclasses
import threading

import numpy as np


@dataclasses.dataclass
class Batch:
    crops: np.ndarray  # (batch_size, T, H, W, 3) uint8; rows past len(tags) are unused
    tags: list  # (video index, start, part, view) of the first len(tags) rows
    writing: int = 0  # rows reserved but not yet written (Batcher.add)


class Batcher:
    """Packs the views of consecutive clips into batches of ``batch_size`` rows.

    Safe to share between threads: the decoders call ``add`` themselves, each copying
    its clip into the rows it reserved, outside the lock, so copies of several decoders
    run at once (NumPy releases the GIL while it copies) and no thread of its own, no
    queue hop, stands between a decoder and the model. A batch is handed out, by the
    ``add`` that wrote its last row, once all its rows are reserved and written. (A
    batcher thread fed by a queue of clips cost a hop and a thread switch a clip.)
    """

    def __init__(self, batch_size, input_shape):
        self.batch_size, self.input_shape = batch_size, tuple(input_shape)
        self._lock = threading.Lock()
        self._batch = self._new()

    def _new(self):
        return Batch(np.empty((self.batch_size, *self.input_shape), np.uint8), [])

    def add(self, clip):
        """Take a ``messages.Clip``; return the batches it completed (usually none or one)."""
        rows = []
        with self._lock:
            for view in range(clip.n_views):  # one row per view
                batch = self._batch
                rows.append((batch, len(batch.tags), view))
                batch.tags.append((clip.index, clip.start, clip.part, view))
                batch.writing += 1
                if len(batch.tags) == self.batch_size:
                    self._batch = self._new()
        full = []
        for batch, row, view in rows:
            clip.view(view, out=batch.crops[row])  # the clip's one copy
            with self._lock:
                batch.writing -= 1
                if not batch.writing and len(batch.tags) == self.batch_size:
                    full.append(batch)
        return full

    def flush(self):
        """The last, partly filled batch, or None: once no ``add`` is under way."""
        with self._lock:
            batch, self._batch = self._batch, self._new()
        return batch if batch.tags else None


def model_input(crops, views, clip_format, batch_size=None):
    """float32 model input from ``len(views)`` rows of uint8 view ``crops``: each minus its
    view's mean, then zero rows up to ``batch_size`` (None: no padding)."""
    count = len(views)
    rows = count if batch_size is None else max(batch_size, count)
    batch = np.empty((rows, *clip_format.input_shape), np.float32)
    clip_format.subtract_view_means(crops, views, out=batch)
    batch[count:] = 0
    return batch


def uint8_input(crops, views, clip_format, batch_size=None):
    """``(crops, views)`` for ``on_view_crops``: the first ``len(views)`` rows of uint8
    ``crops``, then zero rows of view ``n_views`` (mean zero) up to ``batch_size``."""
    count = len(views)
    rows = count if batch_size is None else max(batch_size, count)
    tags = np.full(rows, clip_format.n_views, np.int32)
    tags[:count] = views
    if count == rows:  # a full batch (or no padding): the rows as they are, no copy
        return crops[:rows], tags
    padded = np.zeros((rows, *clip_format.input_shape), np.uint8)
    padded[:count] = crops[:count]
    return padded, tags


def model_rows(predict, crops, views, clip_format, batch_size=None):
    """The model's (N, D) float32 outputs for N rows (see the module docstring)."""
    on_view_crops = getattr(predict, "on_view_crops", None)
    if on_view_crops is not None:
        outputs = on_view_crops(*uint8_input(crops, views, clip_format, batch_size), clip_format)
    else:
        outputs = predict(model_input(crops, views, clip_format, batch_size))
    outputs = np.asarray(outputs)
    count = len(views)
    return outputs[:count].reshape(count, -1).astype(np.float32, copy=False)
