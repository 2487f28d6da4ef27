"""c3d: C3D (Tran et al., ICCV 2015) and Res3D-18 (C3D v1.1) for Keras 3 — models, Caffe
weights, features, training.

Importing ``c3d`` first sets TensorFlow's runtime defaults (oneDNN, thread pools; see
``c3d.runtime``) before TensorFlow is loaded. The heavy parts (Keras, TensorFlow) load
lazily, on first use of a name below, so ``c3d --help`` stays fast.
"""

import importlib

from c3d import runtime as _runtime

_runtime.configure_environment()

__version__ = "1.0.0"

# public name -> module that defines it
_EXPORTS = {
    "C3D": "c3d.model.builder",
    "C3D_model": "c3d.model.builder",
    "C3D_BN": "c3d.model.builder",
    "Res3D18": "c3d.model.res3d18",
    "create_features_extractor": "c3d.model.builder",
    "create_features_exctractor": "c3d.model.builder",
    "load_model": "c3d.model.loader",
    "preprocess_input": "c3d.video.clip_format",
    "ClipFormat": "c3d.video.clip_format",
    "sports1m_labels": "c3d.model.labels",
    "sports1m_mean_cube": "c3d.video.mean",
    "load_mean": "c3d.video.mean",
    "extract_features": "c3d.extraction.features",
    "classify": "c3d.extraction.classification",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'c3d' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
