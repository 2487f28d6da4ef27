"""How a features file was made: the settings every output records, and their check.

Re-running into an existing output with other settings used to skip the videos done
before, so fc6 at stride 8 and fc7 at stride 4 ended up side by side, indistinguishable.
Now every output records the settings below (npz: a JSON string ``provenance``; HDF5:
attributes of the video's group), and a run whose settings differ from an output's stops
with one line naming the first setting that differs.

Settings that change the numbers are compared, in this order; the others (the c3d
version, file names) are recorded only: a moved weights file or an upgrade does not
make finished outputs invalid.
"""

import hashlib
import json
import os

import numpy as np

from c3d.errors import C3DError

COMPARED = (
    "model",
    "preset",
    "layer",
    "stride",
    "crops",
    "fps",
    "precision",
    "input_shape",
    "weights_sha256",
    "mean_sha256",
    "pca_sha256",
)
# How a setting is called on the command line, for the one-line message.
OPTION_NAMES = {
    "model": "--model",
    "preset": "--preset",
    "layer": "--layer",
    "stride": "--stride",
    "crops": "--crops",
    "fps": "--fps",
    "precision": "--precision",
    "input_shape": "the model's input shape",
    "weights_sha256": "--weights",
    "mean_sha256": "--mean",
    "pca_sha256": "--pca",
}
SHIPPED_MEAN = "sports1m (shipped)"
# What an output written before a setting was recorded was made with: C3D (the only model
# before Res3D-18).
UNRECORDED = {"model": "c3d"}
PROVENANCE_ATTR = "provenance"  # where an HDF5 video group keeps its settings, as JSON


def sha256_file(path, chunk=1 << 20):
    """sha256 of a file's bytes (a 320 MB weights file takes ~0.7 s)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def array_sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def settings(
    *,
    model="c3d",
    layer,
    stride,
    precision,
    input_shape,
    weights,
    mean_cube,
    mean_source=None,
    crops=1,
    fps=None,
    preset=None,
    pca=None,
    **extra,
):
    """The settings of a run, as recorded in its outputs (JSON-ready).

    ``model``: the ``--model`` (``c3d.model.architectures``), compared first; an output
    recorded without one was made by C3D. ``preset``: the output layout
    (``c3d.extraction.layouts``); ``pca``: the PCA file features are projected with (its
    bytes' sha256 is compared).
    """
    from c3d import __version__

    weights = os.fspath(weights)
    if preset is not None or pca is not None:
        pca_path = None if pca is None else os.fspath(pca)
        extra = {
            "preset": preset,
            "pca": None if pca_path is None else os.path.basename(pca_path),
            "pca_sha256": None if pca_path is None else sha256_file(pca_path),
            **extra,
        }
    return {
        "model": model,
        "layer": layer,
        "stride": int(stride),
        "crops": int(crops),
        "fps": None if fps is None else float(fps),
        "precision": precision,
        "input_shape": [int(d) for d in input_shape],
        "weights": os.path.basename(weights),
        "weights_sha256": sha256_file(weights),
        "mean": SHIPPED_MEAN if mean_source is None else os.fspath(mean_source),
        "mean_sha256": array_sha256(mean_cube),
        "c3d_version": __version__,
        **extra,
    }


def to_json(values):
    return json.dumps(values, sort_keys=True)


def from_json(text, source):
    try:
        values = json.loads(text)
    except ValueError:
        raise C3DError(f"{source}: its recorded settings are not readable JSON") from None
    if not isinstance(values, dict):
        raise C3DError(f"{source}: its recorded settings are not a JSON object")
    return values


def first_difference(recorded, wanted):
    """(setting, recorded value, wanted value) of the first compared setting that differs."""
    for name in COMPARED:
        old = recorded.get(name, UNRECORDED.get(name))
        new = wanted.get(name, UNRECORDED.get(name))
        if old != new:
            return name, old, new
    return None


def _shown(name, value, values):
    if name == "weights_sha256":
        return f"{values.get('weights')} (sha256 {str(value)[:12]}…)"
    if name == "mean_sha256":
        return f"{values.get('mean')} (sha256 {str(value)[:12]}…)"
    if name == "pca_sha256" and value is not None:
        return f"{values.get('pca')} (sha256 {str(value)[:12]}…)"
    return "none" if value is None else str(value)


def mismatch_message(output, recorded, wanted):
    """The one line for an output made with other settings, or None if they agree."""
    difference = first_difference(recorded, wanted)
    if difference is None:
        return None
    name, old, new = difference
    option = OPTION_NAMES.get(name, name)
    return (
        f"{output}: made with {option} {_shown(name, old, recorded)}, this run has "
        f"{_shown(name, new, wanted)} (use another output, or --overwrite to redo it)"
    )
