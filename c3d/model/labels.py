"""Class names: the Sports-1M labels shipped with the package, or names for other heads."""

import functools
from importlib import resources

from c3d.errors import C3DError

LABELS_FILE = "sports1m_labels.txt"


@functools.lru_cache(maxsize=1)
def sports1m_labels():
    """The 487 Sports-1M class names, in the model's output order."""
    text = resources.files("c3d").joinpath("data", LABELS_FILE).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


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
