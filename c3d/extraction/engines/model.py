"""The model stage as something that can be sent to another process: what to load, not a
loaded model (a Ray replica loads its own, once)."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A weights name or file, a precision and a feature layer: ``predict()`` loads it."""

    weights: str
    precision: str = "fp32"
    layer: str | None = None

    def predict(self):
        """A ``c3d.model.inference.Predictor`` (uint8 batches in), the model loaded once a
        process."""
        from c3d.model.builder import feature_model
        from c3d.model.inference import predict_fn
        from c3d.model.loader import cached_model

        return predict_fn(feature_model(cached_model(self.weights, self.precision), self.layer))


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureModel:
    """An already loaded Keras model (this process only) and the layer to read."""

    model: object
    layer: str | None = None

    def predict(self):
        from c3d.model.builder import feature_model
        from c3d.model.inference import predict_fn

        return predict_fn(feature_model(self.model, self.layer))


@dataclasses.dataclass(frozen=True)
class StandInModel:
    """A model that costs a fixed wall time per batch and no CPU (``time.sleep``): what an
    accelerator looks like to the CPU side. ``make bench``'s simulated-accelerator step."""

    seconds: float = 0.2
    dims: int = 8

    def predict(self):
        return _StandIn(self.seconds, self.dims)


class _StandIn:
    """``StandInModel``'s predict: takes uint8 crops as a real model's ``Predictor`` does
    (the mean is the accelerator's work), or float clips from a plain caller."""

    def __init__(self, seconds, dims):
        self.seconds, self.dims = seconds, dims

    def __call__(self, batch):
        import time

        time.sleep(self.seconds)
        return np.zeros((len(batch), self.dims), np.float32)

    def on_view_crops(self, crops, views, clip_format):
        return self(crops)
