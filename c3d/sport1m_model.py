"""``from c3d import sport1m_model``: the module name of the earlier Keras ports of C3D.

Kept so their scripts run with only the import changed (``sport1m_model.C3D_model(...)``,
``create_model_functional()``, ``create_model_sequential()``,
``sport1m_model.create_features_exctractor(...)``); the model lives in ``c3d.model``.
Its ``.input`` and ``.output`` are defined, so their
``keras.Model(inputs=model.input, outputs=model.get_layer("fc6").output)`` works, and
their Keras 2 ``.h5`` weight files load with ``model.load_weights``.
"""

from c3d.model.builder import (  # noqa: F401  (this module's public names)
    C3D_model,
    create_features_exctractor,
    create_features_extractor,
)
from c3d.model.plan import INPUT_SHAPE, NUM_CLASSES  # noqa: F401
from c3d.video.clip_format import preprocess_input  # noqa: F401

# The builders of the Keras 2.2.4 port (sport1m_model.py there): the 487-way Sports-1M
# C3D, functional and Sequential. Here both are C3D_model's Sequential.
create_model_functional = C3D_model
create_model_sequential = C3D_model
