"""What every reader of a foreign weights file hands the one conversion path (``convert``).

A reader (``caffe.source``, ``torch_state``, ``keras2``) makes a first pass over its
file and returns a ``WeightSource``: which kind of file it is, and each layer with
weights, named as in the file, mapped to the C3D layer of ``c3d.model.plan`` it holds,
with its blobs' shapes. ``WeightSource.arrays()`` is the second pass: it yields each
layer's ``[weights, bias]`` in CAFFE layout (conv ``(out, in, d, h, w)``, dense
``(out, in)``, fc6's inputs in pool5's ``(C, D, H, W)`` flatten order), one layer at a
time. Every format then goes through the same checks, transposes and fc6 permutation.
"""

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass
class SourceLayer:
    name: str  # as the file names it: "conv1a" (Caffe), "conv1a.conv" (mmaction2), …
    keras_name: str | None  # the C3D layer it holds; None: C3D has no such layer
    shapes: list  # its blobs' shapes in Caffe layout (Caffe's leading 1s allowed)
    stored: list | None = None  # the shapes as stored, when the file's layout is not Caffe's

    def __post_init__(self):
        if self.stored is None:
            self.stored = self.shapes


@dataclasses.dataclass
class WeightSource:
    path: str
    kind: str  # "Caffe model", "PyTorch state dict", "Keras 2 weights", …
    details: list  # what else was found: dialect, layout, container, counts
    column: str  # the file's side of the mapping table: "Caffe", "PyTorch", "Keras 2"
    layers: list  # [SourceLayer], the layers with weights, in file order
    names: dict  # {C3D layer: its name in this file's convention}, for messages
    arrays: Callable  # () -> iterator of (C3D layer name, [weights, bias]), Caffe layout
