"""The uint8 front end of the inference graph: view crops in, mean-subtracted clips out.

C3D takes clips minus the Sports-1M mean, in float32 (``c3d.video.clip_format``). On an
accelerator that subtraction belongs on the device: the decoders then hand over uint8
crops, a quarter of the float32 bytes that cross to it (a batch of 32 clips: 19 MB
instead of 77 MB), and the CPU does no float work at all. ``ViewMeanSubtraction`` is that
step as a Keras layer, shipped beside the backbone as keras-hub ships a preprocessor;
``with_view_means`` wraps a model with it. ``C3D_model()`` itself is unchanged: it still
takes mean-subtracted float clips, and only the inference path
(``c3d.model.inference.Predictor.on_view_crops``) wraps it.

The arithmetic is the CPU's (``ClipFormat.subtract_view_means``): the same float32
subtraction of the same values, ``float32(crop) - view_means[view]``, which IEEE float
rounds identically everywhere, so the model sees bit-identical input
(tests/test_preprocessor.py). The means are ``ClipFormat.view_means``: one fact, read by
both.
"""

import keras
import numpy as np


class ViewMeanSubtraction(keras.layers.Layer):
    """``(crops uint8 (B, T, H, W, 3), views int32 (B,))`` → float32 ``crops - means[views]``.

    ``view_means`` (V, T, H, W, 3): the mean under each view's crop, mirrored with
    mirrored views (``ClipFormat.view_means``). A row whose view is ``V`` (one past the
    last) is padding: its mean is zero, so a zero crop stays exactly 0.0, as the CPU's
    padding rows are; real rows never read that entry, so padding changes no real row.

    The means are a non-trainable weight, not a literal folded into the traced graph:
    they live once on the device (2.4 MB for one view, 24 MB for ten crops) and a
    compiled call takes them as an argument instead of embedding them in its program.
    The layer computes in float32 whatever the global policy (a bf16 model casts at
    its first layer, as it does the CPU's float32 clips). It is built for each run and
    never saved, so it has no config.
    """

    def __init__(self, view_means, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        means = np.asarray(view_means, np.float32)
        if means.ndim != 5 or means.shape[-1] != 3:
            raise ValueError(f"view_means must be (V, T, H, W, 3). Received: {means.shape}")
        self.n_views = len(means)
        table = np.concatenate([means, np.zeros_like(means[:1])])  # the padding's: 0
        self.means = self.add_weight(
            shape=table.shape, initializer="zeros", trainable=False, name="view_means"
        )
        self.means.assign(table)

    def call(self, crops, views):
        if keras.backend.standardize_dtype(crops.dtype) != "uint8":
            # Mean-subtracted clips are float: taking only uint8 makes a second
            # subtraction of the mean impossible, not only untested.
            raise TypeError(f"ViewMeanSubtraction takes uint8 crops. Received: {crops.dtype}")
        means = keras.ops.take(self.means, keras.ops.cast(views, "int32"), axis=0)
        return keras.ops.subtract(keras.ops.cast(crops, "float32"), means)

    def compute_output_spec(self, crops, views):
        return keras.KerasTensor(crops.shape, dtype="float32")


def with_view_means(model, view_means):
    """``model`` (taking mean-subtracted float32 clips) behind a ``ViewMeanSubtraction``:
    a model of two inputs, ``crops`` uint8 (B, T, H, W, 3) and ``views`` int32 (B,)."""
    shape = tuple(model.input_shape[1:])
    crops = keras.Input(shape, dtype="uint8", name="crops")
    views = keras.Input((), dtype="int32", name="views")
    clips = ViewMeanSubtraction(view_means, name="view_mean_subtraction")(crops, views)
    return keras.Model([crops, views], model(clips), name=f"{model.name}_uint8")
