"""Class names: the lists shipped with the package (Sports-1M, UCF101), or names for other heads."""

import functools
from importlib import resources

from c3d.errors import C3DError

LABELS_FILE = "sports1m_labels.txt"


@functools.lru_cache(maxsize=4)
def shipped_labels(file_name):
    """A class list of ``c3d/data``, one name a line, in the model's output order."""
    text = resources.files("c3d").joinpath("data", file_name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def sports1m_labels():
    """The 487 Sports-1M class names, in the model's output order."""
    return shipped_labels(LABELS_FILE)


def weights_labels(weights):
    """The class names published with preset ``weights`` (a name), else None."""
    from c3d.model.presets import PRESETS, is_preset

    if is_preset(weights) and PRESETS[weights].labels:
        return shipped_labels(PRESETS[weights].labels)
    return None


def class_labels(n_classes, labels=None):
    """Names of a model's classes: ``labels``, the Sports-1M ones, or "class N"."""
    if labels is None:
        labels = sports1m_labels()
        if len(labels) != n_classes:
            labels = [f"class {i}" for i in range(n_classes)]
    labels = list(labels)
    if len(labels) != n_classes:
        raise C3DError(f"the model has {n_classes} classes but {len(labels)} labels were given")
    return labels
