"""The ``tf.data`` input of ``c3d train``: one clip per video per epoch, decoded in parallel.

Training: per video and epoch a random window of T frames, resized, mean-subtracted, a
random crop and a random horizontal flip. Validation: the stride-8 clip nearest the
middle of each video, centre crop (the same clip every epoch, normalised by the same
``ClipFormat`` that ``c3d evaluate`` uses).

Videos are decoded with OpenCV inside ``tf.numpy_function`` (OpenCV releases the GIL
while decoding, so tf.data's parallel map really runs in parallel). A video that cannot
be decoded is dropped from the batch, warned about once and counted; an epoch never
fails because of one bad file.
"""

import logging
import threading

import numpy as np

from c3d.clip_format import middle_clip_start, pad_clip
from c3d.video import VideoError, check_decoded, declared_frame_count, iter_frames, open_video

log = logging.getLogger(__name__)


class DecodeFailures:
    """Videos that could not be decoded: each is warned about once, all are counted."""

    def __init__(self):
        self._reasons = {}
        self._lock = threading.Lock()

    def record(self, path, reason):
        with self._lock:
            first = path not in self._reasons
            self._reasons[path] = reason
        if first:
            log.warning("skipping a video that cannot be decoded: %s", reason)

    def __len__(self):
        with self._lock:
            return len(self._reasons)

    @property
    def reasons(self):
        with self._lock:
            return dict(self._reasons)


class ClipReader:
    """Reads clip windows of videos for one ``ClipFormat``.

    A video's frame count is what decoding yields (containers often misreport it), so
    it is counted on the first visit and cached; later epochs decode only up to the end
    of the window they need.
    """

    def __init__(self, clip_format, failures=None, flip=True):
        self.format = clip_format
        self.failures = DecodeFailures() if failures is None else failures
        self.flip = flip
        self._frame_counts = {}

    def frame_count(self, path):
        count = self._frame_counts.get(path)
        if count is None:
            capture = open_video(path)
            declared = declared_frame_count(capture)
            # Frames yielded as None are decoded but not converted to BGR: cheaper.
            count = sum(1 for _ in iter_frames(capture, keep=lambda index: False))
            check_decoded(path, count, declared)  # the same rule as c3d evaluate's
            self._frame_counts[path] = count
        return count

    def read_window(self, path, start):
        """Frames start … start+T-1, resized (uint8); padded with the last frame if short."""
        capture = open_video(path)
        try:
            for _ in range(start):
                if not capture.grab():
                    break
            frames = []
            while len(frames) < self.format.frames:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                frames.append(self.format.resize(frame))
        finally:
            capture.release()
        if not frames:
            raise VideoError(f"{path}: no frame could be decoded from frame {start} on")
        return np.stack(pad_clip(frames, self.format.frames))

    def training_clip(self, path, seed):
        """A random window, random crop and (if enabled) random flip, from ``seed``."""
        rng = np.random.default_rng(seed)
        length = self.format.frames
        start = int(rng.integers(0, max(self.frame_count(path) - length, 0) + 1))
        offsets = self.format.random_offsets(rng)
        flip = self.flip and bool(rng.integers(0, 2))
        return self.format.normalize(self.read_window(path, start), offsets, flip)

    def validation_clip(self, path):
        """The middle stride-8 clip, centre crop."""
        start = middle_clip_start(self.frame_count(path), self.format.frames)
        return self.format.normalize(self.read_window(path, start))

    def load(self, path, seed, training):
        """(clip, ok) for tf.data; a failure gives (zeros, False) and is recorded."""
        path = path.decode("utf-8") if isinstance(path, bytes) else str(path)
        try:
            clip = self.training_clip(path, int(seed)) if training else self.validation_clip(path)
            return clip, np.bool_(True)
        except Exception as exc:  # any one bad file must not end a (possibly hours-long) epoch
            reason = str(exc) if isinstance(exc, VideoError) else f"{path}: {exc}"
            self.failures.record(path, reason)
            return np.zeros(self.format.input_shape, np.float32), np.bool_(False)


def batches_per_epoch(num_videos, batch_size, training=True):
    """Batches one pass yields (training drops a last partial batch when there are full ones)."""
    if training and num_videos >= batch_size:
        return num_videos // batch_size
    return -(-num_videos // batch_size)


def make_dataset(video_set, reader, batch_size, training, seed=0, workers=None):
    """A ``tf.data.Dataset`` of (clips float32 (B, T, H, W, 3), labels int32 (B,)).

    Validation data is one pass over the videos; training data repeats without end
    (take ``batches_per_epoch`` batches per epoch), reshuffled on every pass.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    items = tf.data.Dataset.from_tensor_slices(
        (tf.constant(video_set.paths), tf.constant(video_set.labels, tf.int32))
    )
    if training:
        items = items.shuffle(len(video_set), seed=seed, reshuffle_each_iteration=True)
    # One random seed per video and epoch: clips are reproducible for a given --seed,
    # whatever the order the parallel decoders finish in.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    shape = reader.format.input_shape

    def load(path_label, clip_seed):
        path, label = path_label
        clip, ok = tf.numpy_function(
            lambda p, s: reader.load(p, s, training),
            [path, clip_seed],
            [tf.float32, tf.bool],
            stateful=True,
        )
        clip.set_shape(shape)
        ok.set_shape(())
        return clip, label, ok

    dataset = (
        tf.data.Dataset.zip((items, seeds))
        .map(load, num_parallel_calls=workers or autotune)
        .filter(lambda clip, label, ok: ok)
        .map(lambda clip, label, ok: (clip, label))
        .batch(batch_size, drop_remainder=training and len(video_set) >= batch_size)
    )
    if training:
        # Endless, and fit() is told the steps of an epoch: Keras miscounts the optimizer's
        # iterations on a dataset of unknown length (one phantom step per epoch), and
        # skipped videos make the length unknown. A pass that yields nothing ends it.
        dataset = dataset.repeat()
    return dataset.prefetch(autotune)
