"""Writing C3D weights as the PyTorch ports save them: the tests' fixtures (needs torch).

From Caffe-layout weights ({Caffe layer: [weights, bias]}, as ``caffe_files.
random_c3d_weights`` draws them), following each port's own model code:

* DavideA/c3d-pytorch (``C3D.py``): ``conv1`` … ``conv5b``, ``fc6`` … ``fc8`` as
  ``nn.Conv3d``/``nn.Linear`` attributes, so a bare state dict ``conv1.weight`` …
  ``fc8.bias``; its ``c3d.pickle`` is in torch's legacy (pre-1.6, non-zip) format;
* mmaction2 (``mmaction/models/backbones/c3d.py``): ``conv1a`` … ``conv5b`` as mmcv
  ``ConvModule``s (the convolution is their ``.conv``), ``fc6``, ``fc7``, no fc8; saved
  by mmengine's runner as ``{"meta", "state_dict", "message_hub", "optimizer"}`` with the
  whole recognizer's keys (``backbone.…``, ``cls_head.fc_cls.…``).

PyTorch's Conv3d weight is ``(out, in, d, h, w)`` and Linear's ``(out, in)``, Caffe's own
layouts, so the arrays go in as they are.
"""

import collections
import contextlib
import sys
import types

import numpy as np
import torch

from c3d.model import plan


def davidea_state_dict(caffe_weights):
    """DavideA/c3d-pytorch's state dict: our layer names, ``.weight`` and ``.bias``."""
    state = collections.OrderedDict()
    for caffe_name, name in plan.CAFFE_TO_KERAS.items():
        weights, bias = caffe_weights[caffe_name]
        state[f"{name}.weight"] = torch.from_numpy(weights)
        state[f"{name}.bias"] = torch.from_numpy(bias)
    return state


def mmaction2_state_dict(caffe_weights, prefix="", head=None):
    """mmaction2's C3D backbone state dict, keys after ``prefix`` (``"backbone."`` for a
    whole recognizer); ``head`` [weights, bias] becomes its ``cls_head.fc_cls``."""
    state = collections.OrderedDict()
    for conv in plan.CONVS:
        weights, bias = caffe_weights[conv.caffe_name]
        state[f"{prefix}{conv.caffe_name}.conv.weight"] = torch.from_numpy(weights)
        state[f"{prefix}{conv.caffe_name}.conv.bias"] = torch.from_numpy(bias)
    for dense in plan.DENSES[:-1]:
        weights, bias = caffe_weights[dense.caffe_name]
        state[f"{prefix}{dense.name}.weight"] = torch.from_numpy(weights)
        state[f"{prefix}{dense.name}.bias"] = torch.from_numpy(bias)
    if head is not None:
        state["cls_head.fc_cls.weight"] = torch.from_numpy(head[0])
        state["cls_head.fc_cls.bias"] = torch.from_numpy(head[1])
    return state


@contextlib.contextmanager
def foreign_class(qualified_name):
    """A class importable as ``qualified_name`` while the block runs, gone after it.

    For objects of libraries the reader does not have (mmengine's ``HistoryBuffer`` in
    a checkpoint's ``message_hub``): pickle saves them by that name.
    """
    module_name, _, class_name = qualified_name.rpartition(".")
    parts = module_name.split(".")
    added = []
    cls = type(class_name, (), {"__module__": module_name, "__qualname__": class_name})
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            added.append(name)
    setattr(sys.modules[module_name], class_name, cls)
    try:
        yield cls
    finally:
        for name in added:
            del sys.modules[name]


def save_mmengine_checkpoint(path, state_dict):
    """Save ``state_dict`` as mmengine's runner saves a checkpoint (``save_checkpoint``):
    ``meta`` (with numpy values), ``message_hub`` (``HistoryBuffer`` objects, of a class
    the reader cannot import) and ``optimizer`` (SGD's state); zip format."""
    with foreign_class("mmengine.logging.history_buffer.HistoryBuffer") as history_buffer:
        loss = history_buffer()
        loss.__dict__.update(max_length=1000000, _log_history=np.array([2.3, 1.9]))
        checkpoint = {
            "meta": {
                "epoch": 45,
                "iter": 12345,
                "seed": np.int64(0),
                "mmengine_version": "0.10.4",
                "dataset_meta": {"classes": ("ApplyEyeMakeup", "ApplyLipstick")},
            },
            "state_dict": state_dict,
            "message_hub": {"log_scalars": {"train/loss": loss}, "runtime_info": {"epoch": 45}},
            "optimizer": {
                "state": {0: {"momentum_buffer": torch.zeros(4)}},
                "param_groups": [{"lr": 1e-5, "momentum": 0.9, "params": [0]}],
            },
        }
        torch.save(checkpoint, path)  # while the class is importable
    return path


def save(obj, path, legacy=False):
    """``torch.save`` of ``obj`` (zip format; ``legacy``: torch's pre-1.6 format)."""
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path
