"""The fastest measured way to run a Keras model on batches, per backend.

Each backend gets its own call path, and none of them imports another backend's
framework: a JAX or torch process never loads TensorFlow (tests/test_backends.py).
"""

import keras
import numpy as np


def make_predict_fn(model):
    """Return ``f(batch: np.ndarray) -> np.ndarray`` running ``model`` in inference mode.

    Outputs are float32 numpy arrays whatever the model computes in (a ``mixed_bfloat16``
    model's are bfloat16), and the batch goes to the device the model's weights are on.

    - TensorFlow: a ``tf.function`` without XLA and with a batch-polymorphic signature
      (one trace for all batch sizes): measured faster than ``model.predict`` on CPU,
      where XLA's Conv3D is slower than oneDNN's.
    - JAX: ``jax.jit`` of ``model.stateless_call``, the weights passed as arguments (read
      at each call, so a model being trained is scored with its current weights).
    - torch: the eager call under ``torch.inference_mode`` (no autograd bookkeeping).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_predict(model)
    if backend == "jax":
        return _jax_predict(model)
    if backend == "torch":
        return _torch_predict(model)

    def predict(batch):  # another backend: Keras' own path
        outputs = model.predict_on_batch(np.asarray(batch, np.float32))
        return np.asarray(outputs).astype(np.float32, copy=False)

    return predict


def _tensorflow_predict(model):
    import tensorflow as tf

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)

    @tf.function(input_signature=[spec], jit_compile=False, reduce_retracing=True)
    def forward(batch):
        return tf.cast(model(batch, training=False), tf.float32)

    return lambda batch: forward(tf.convert_to_tensor(batch, tf.float32)).numpy()


def _jax_predict(model):
    import jax
    import jax.numpy as jnp

    @jax.jit
    def forward(trainable, non_trainable, batch):
        outputs, _ = model.stateless_call(trainable, non_trainable, batch, training=False)
        return outputs.astype(jnp.float32)

    def predict(batch):
        trainable = [variable.value for variable in model.trainable_variables]
        non_trainable = [variable.value for variable in model.non_trainable_variables]
        outputs = forward(trainable, non_trainable, np.asarray(batch, np.float32))
        return np.asarray(outputs)

    return predict


def torch_device(model):
    """The torch device ``model``'s weights are on (Keras puts them on the GPU if any)."""
    import torch

    for variable in model.weights:
        return variable.value.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _torch_predict(model):
    import torch

    device = torch_device(model)

    def predict(batch):
        with torch.inference_mode():
            inputs = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(device)
            outputs = model(inputs, training=False)
            return outputs.to(torch.float32).cpu().numpy()

    return predict


class _Cache:
    """What c3d keeps per model. Not a dict: Keras' saving walks dicts for layers to save."""

    def __init__(self):
        self.items = {}


def model_cache(model):
    """A dict that lives and dies with ``model`` (extractors, compiled calls).

    Kept on the model itself, not in a module-level table keyed by it: a weak-keyed
    table leaked every model whose cached value referred back to it (its compiled call
    does), 320 MB of weights each.
    """
    cache = model.__dict__.get("_c3d_cache")
    if cache is None:
        cache = _Cache()
        object.__setattr__(model, "_c3d_cache", cache)  # past Keras' attribute tracking
    return cache.items


def predict_fn(model):
    """``make_predict_fn(model)``, made once per model (tracing costs seconds)."""
    cache = model_cache(model)
    if "predict" not in cache:
        cache["predict"] = make_predict_fn(model)
    return cache["predict"]
