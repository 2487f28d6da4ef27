"""``from c3d import sport1m_model``: the module name of the earlier Keras ports of C3D.

Kept so their scripts run unchanged (``sport1m_model.C3D_model(...)``,
``sport1m_model.create_features_exctractor(...)``); the model lives in ``c3d.model``.
"""

from c3d.model.builder import (  # noqa: F401  (this module's public names)
    C3D_model,
    create_features_exctractor,
    create_features_extractor,
)
from c3d.model.plan import INPUT_SHAPE, NUM_CLASSES  # noqa: F401
from c3d.video.clip_format import preprocess_input  # noqa: F401
