"""Model-only throughput (inference and training steps), in clips per second."""

import statistics
import time

import numpy as np


def clips_per_second(step, batch, repeats=5, warmup=1):
    """Median throughput of ``step(batch)`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        step(batch)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(batch)
        seconds.append(time.perf_counter() - start)
    return len(batch) / statistics.median(seconds)


def random_clips(batch_size, input_shape=(16, 112, 112, 3), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-128, 128, (batch_size, *input_shape)).astype(np.float32)


def inference_throughput(model, batch_sizes=(1, 8, 16), repeats=5):
    """{batch size: clips/s} on the package's default call path (c3d.inference)."""
    from c3d.model.inference import make_predict_fn

    predict = make_predict_fn(model)
    shape = tuple(model.input_shape[1:])  # C3D 16x112x112x3, Res3D-18 8x112x112x3
    return {
        batch_size: clips_per_second(predict, random_clips(batch_size, shape), repeats=repeats)
        for batch_size in batch_sizes
    }


def training_throughput(batch_size=8, input_shape=(16, 112, 112, 3), repeats=3):
    """C3D-BN training steps (SGD, momentum), clips/s."""
    import keras

    from c3d import C3D_BN

    model = C3D_BN(num_classes=8, input_shape=input_shape)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
    )
    clips = random_clips(batch_size, input_shape)
    labels = np.arange(batch_size) % 8

    def step(batch):
        model.train_on_batch(batch, labels)

    return clips_per_second(step, clips, repeats=repeats)
