"""The fastest measured way to run a Keras model on batches, per backend.

Each backend gets its own call path, and none of them imports another backend's
framework: a JAX or torch process never loads TensorFlow (tests/test_backends.py).
"""

import hashlib
import weakref

import keras
import numpy as np


def make_predict_fn(model):
    """Return ``f(*inputs: np.ndarray) -> np.ndarray`` running ``model`` in inference mode.

    One array per model input, each taken in that input's dtype (C3D: one float32 batch
    of mean-subtracted clips; ``preprocessor.with_view_means``: uint8 crops and int32
    views). Outputs are float32 numpy arrays whatever the model computes in (a
    ``mixed_bfloat16`` model's are bfloat16), and the inputs go to the device the model's
    weights are on.

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

    def predict(*batch):  # another backend: Keras' own path
        outputs = model.predict_on_batch(_one_or_list(_as_inputs(model, batch)))
        return np.asarray(outputs).astype(np.float32, copy=False)

    return predict


def _input_dtypes(model):
    """The dtype of each of ``model``'s inputs (float32 where a model does not say)."""
    inputs = getattr(model, "inputs", None) or [None]
    return [getattr(each, "dtype", None) or "float32" for each in inputs]


def _as_inputs(model, batch):
    return [np.asarray(b, dtype) for b, dtype in zip(batch, _input_dtypes(model), strict=True)]


def _one_or_list(inputs):
    return inputs[0] if len(inputs) == 1 else list(inputs)


def _tensorflow_predict(model):
    import tensorflow as tf

    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    specs = [
        tf.TensorSpec((None, *shape[1:]), dtype)
        for shape, dtype in zip(shapes, _input_dtypes(model), strict=True)
    ]

    @tf.function(input_signature=specs, jit_compile=False, reduce_retracing=True)
    def forward(*inputs):
        return tf.cast(model(_one_or_list(inputs), training=False), tf.float32)

    def predict(*batch):
        tensors = [tf.convert_to_tensor(b, s.dtype) for b, s in zip(batch, specs, strict=True)]
        return forward(*tensors).numpy()

    return predict


def _jax_predict(model):
    import jax
    import jax.numpy as jnp

    @jax.jit
    def forward(trainable, non_trainable, *inputs):
        outputs, _ = model.stateless_call(
            trainable, non_trainable, _one_or_list(inputs), training=False
        )
        return outputs.astype(jnp.float32)

    def predict(*batch):
        trainable = [variable.value for variable in model.trainable_variables]
        non_trainable = [variable.value for variable in model.non_trainable_variables]
        outputs = forward(trainable, non_trainable, *_as_inputs(model, batch))
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

    def predict(*batch):
        with torch.inference_mode():
            inputs = [
                torch.from_numpy(np.ascontiguousarray(b)).to(device)
                for b in _as_inputs(model, batch)
            ]
            outputs = model(_one_or_list(inputs), training=False)
            return outputs.to(torch.float32).cpu().numpy()

    return predict


class Predictor:
    """What ``predict_fn(model)`` gives: ``model`` on batches, two ways in.

    - ``predictor(batch)``: float32 clips, mean already subtracted (the CPU's
      ``ClipFormat.subtract_view_means``, ``preprocess_input``): ``model`` as it is.
    - ``predictor.on_view_crops(crops, views, clip_format)``: uint8 view crops and which
      view each row is; ``model`` behind ``preprocessor.ViewMeanSubtraction``, so the
      mean is subtracted on the model's device and batches cross to it as uint8. What
      ``c3d.pipeline.batching.model_rows`` uses whenever the predict it is given has it.

    Each way subtracts the mean once: the float way never does, the uint8 way takes
    nothing but uint8 (a mean-subtracted clip is float, so it cannot come in twice).
    One wrapped model is traced per distinct set of view means, kept with ``model``.
    """

    def __init__(self, model):
        self.model = model
        self._float = make_predict_fn(model)
        self._by_means = {}  # digest of view means -> predict of the wrapped model
        self._digests = weakref.WeakKeyDictionary()  # ClipFormat -> its means' digest

    def __call__(self, batch):
        return self._float(batch)

    def on_view_crops(self, crops, views, clip_format):
        """(B, D…) float32 outputs of B rows of uint8 ``crops`` of views ``views`` (B,);
        a row of view ``clip_format.n_views`` is padding (its mean is zero)."""
        crops = np.asarray(crops)
        if crops.dtype != np.uint8:
            raise TypeError(f"on_view_crops takes uint8 crops. Received: {crops.dtype}")
        return self._wrapped(clip_format)(crops, np.asarray(views, np.int32))

    def _wrapped(self, clip_format):
        digest = self._digests.get(clip_format)
        if digest is None:
            means = clip_format.view_means
            digest = hashlib.blake2b(
                means.tobytes(), digest_size=16, person=repr(means.shape)[:16].encode()
            ).digest()
            self._digests[clip_format] = digest
        if digest not in self._by_means:
            from c3d.model.preprocessor import with_view_means

            self._by_means[digest] = make_predict_fn(
                with_view_means(self.model, clip_format.view_means)
            )
        return self._by_means[digest]


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
    """``Predictor(model)``, made once per model (tracing costs seconds)."""
    cache = model_cache(model)
    if "predict" not in cache:
        cache["predict"] = Predictor(model)
    return cache["predict"]
