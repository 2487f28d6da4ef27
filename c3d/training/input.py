"""The ``tf.data`` input of ``c3d train``: one random clip per video per epoch, in parallel.

Per video and epoch: a random window of T frames, resized, mean-subtracted, a random
crop and a random horizontal flip, all by the same ``ClipFormat`` that extraction and
evaluation use. (Validation does not come through here: it runs through the streaming
path, see ``c3d.training.callbacks.StreamValidation``.)

Videos are decoded with OpenCV inside ``tf.numpy_function`` (OpenCV releases the GIL
while decoding, so tf.data's parallel map really runs in parallel). A video that cannot
be decoded is dropped from the batch, warned about once and counted; an epoch never
fails because of one bad file.
"""

import numpy as np

from c3d.training.datasets import DecodeFailures
from c3d.video.clips import pad_clip
from c3d.video.decode import (
    VideoError,
    check_decoded,
    declared_frame_count,
    iter_frames,
    open_video,
)


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
            check_decoded(path, count, declared)  # the same rule as the streaming path's
            self._frame_counts[path] = count
        return count

    def read_window(self, path, start):
        """The clip at ``start``: frames start, start+step, … (T of them, spanning
        ``format.span`` video frames), resized (uint8); padded with the last frame if short."""
        capture = open_video(path)
        try:
            for _ in range(start):
                if not capture.grab():
                    break
            frames = []
            for offset in range(self.format.span):
                if offset % self.format.step:
                    if not capture.grab():
                        break
                    continue
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
        length = self.format.span
        start = int(rng.integers(0, max(self.frame_count(path) - length, 0) + 1))
        offsets = self.format.random_offsets(rng)
        flip = self.flip and bool(rng.integers(0, 2))
        return self.format.normalize(self.read_window(path, start), offsets, flip)

    def load(self, path, seed):
        """(clip, ok) for tf.data; a failure gives (zeros, False) and is recorded."""
        path = path.decode("utf-8") if isinstance(path, bytes) else str(path)
        try:
            return self.training_clip(path, int(seed)), np.bool_(True)
        except Exception as exc:  # any one bad file must not end a (possibly hours-long) epoch
            reason = str(exc) if isinstance(exc, VideoError) else f"{path}: {exc}"
            self.failures.record(path, reason)
            return np.zeros(self.format.input_shape, np.float32), np.bool_(False)


def batches_per_epoch(num_videos, batch_size):
    """Batches an epoch takes: a last partial batch is dropped when there are full ones."""
    if num_videos >= batch_size:
        return num_videos // batch_size
    return -(-num_videos // batch_size)


def make_dataset(video_set, reader, batch_size, seed=0, workers=None):
    """An endless ``tf.data.Dataset`` of (clips float32 (B, T, H, W, 3), labels int32 (B,)).

    Take ``batches_per_epoch`` batches per epoch; the videos are reshuffled on every pass.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    items = tf.data.Dataset.from_tensor_slices(
        (tf.constant(video_set.paths), tf.constant(video_set.labels, tf.int32))
    ).shuffle(len(video_set), seed=seed, reshuffle_each_iteration=True)
    # One random seed per video and epoch: clips are reproducible for a given --seed,
    # whatever the order the parallel decoders finish in.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    shape = reader.format.input_shape

    def load(path_label, clip_seed):
        path, label = path_label
        clip, ok = tf.numpy_function(
            reader.load, [path, clip_seed], [tf.float32, tf.bool], stateful=True
        )
        clip.set_shape(shape)
        ok.set_shape(())
        return clip, label, ok

    dataset = (
        tf.data.Dataset.zip((items, seeds))
        .map(load, num_parallel_calls=workers or autotune)
        .filter(lambda clip, label, ok: ok)
        .map(lambda clip, label, ok: (clip, label))
        .batch(batch_size, drop_remainder=len(video_set) >= batch_size)
    )
    # Endless, and fit() is told the steps of an epoch: Keras miscounts the optimizer's
    # iterations on a dataset of unknown length (one phantom step per epoch), and
    # skipped videos make the length unknown. A pass that yields nothing ends it.
    return dataset.repeat().prefetch(autotune)
