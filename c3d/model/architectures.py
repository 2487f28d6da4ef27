"""The networks c3d runs, by their ``--model`` name: which layer plan, which clips, which features.

One row per architecture, so that a command, the loader, the clip format and the
provenance all ask the same table what ``--model res3d18`` means:

============  ===========  ===============  ========================  ==============
``--model``   layer plan   clip             mean                      features
============  ===========  ===============  ========================  ==============
c3d           ``plan``     16 frames, 1:1   the Sports-1M mean cube   fc6 (4096)
c3d_bn        ``plan``     16 frames, 1:1   the Sports-1M mean cube   fc6 (4096)
res3d18       res3d18      8 frames, 1:2    128 on every channel      pool5 (512)
============  ===========  ===============  ========================  ==============

Pure data: importing it loads no Keras.
"""

import dataclasses

from c3d.errors import C3DError
from c3d.model import plan as c3d_plan
from c3d.model import res3d18_plan


@dataclasses.dataclass(frozen=True)
class Architecture:
    name: str  # --model
    title: str  # for messages
    plan: object  # the layer plan module
    default_layer: str  # --layer when not given
    frame_step: int  # a clip takes every frame_step-th video frame
    mean_value: float | None  # a constant subtracted from every channel; None: a mean cube

    @property
    def input_shape(self):
        return self.plan.INPUT_SHAPE

    @property
    def feature_layers(self):
        return self.plan.FEATURE_LAYERS

    @property
    def clip_span(self):
        """Video frames a clip spans: 16 for both C3D and Res3D-18."""
        return self.plan.CLIP_SHAPE[0] * self.frame_step


ARCHITECTURES = {
    "c3d": Architecture("c3d", "C3D", c3d_plan, "fc6", 1, None),
    "c3d_bn": Architecture("c3d_bn", "C3D-BN", c3d_plan, "fc6", 1, None),
    "res3d18": Architecture(
        "res3d18",
        "Res3D-18",
        res3d18_plan,
        "pool5",
        res3d18_plan.FRAME_STEP,
        res3d18_plan.MEAN_VALUE,
    ),
}
MODEL_NAMES = tuple(ARCHITECTURES)
DEFAULT_MODEL = "c3d"


def architecture(name):
    """The ``Architecture`` of a ``--model`` name, or a one-line error listing the choices."""
    try:
        return ARCHITECTURES[name or DEFAULT_MODEL]
    except KeyError:
        raise C3DError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})") from None


def check_layer(name, layer):
    """A ``--layer`` name of model ``name``, or a one-line error listing that model's choices."""
    arch = architecture(name)
    if layer not in arch.feature_layers:
        choices = ", ".join(arch.feature_layers)
        raise C3DError(f"unknown feature layer {layer!r} for {arch.title} (choose from {choices})")
    return layer


def of_model(model):
    """The ``Architecture`` of a built Keras model (one cut from it too), told by its layers."""
    names = {layer.name for layer in model.layers}
    if res3d18_plan.LAST_BLOCK in names or res3d18_plan.CONV1.bn in names:
        return ARCHITECTURES["res3d18"]
    return ARCHITECTURES["c3d"]
