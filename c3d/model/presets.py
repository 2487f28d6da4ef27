"""Known C3D weights by name, and the folder they are cached in: the data, not the logic.

In the style of keras-hub's presets: ``C3D_model(weights="sports1m")``, ``load_model("sports1m")``
and ``c3d extract --weights sports1m`` name an entry of ``PRESETS``; ``c3d.model.loader.
resolve_weights`` turns the name into ``cache_dir()/file_name`` and says how to get the
file when it is not there. ``c3d fetch-weights`` writes it there.

Pure data and ``os``: importing it loads no Keras.
"""

import dataclasses
import os

CACHE_ENV = "C3D_HOME"  # the cache folder, when set
DEFAULT_CACHE = os.path.join("~", ".keras", "models")  # where keras.applications caches


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    file_name: str  # the converted Keras 3 weights, in cache_dir()
    description: str
    num_classes: int
    converted_from: str  # the original file, as published
    source_file: str  # its name once downloaded, next to the converted file
    urls: tuple  # where it is published, tried in this order
    how_to_get: str  # a command that works after a plain `pip install c3d-keras`


PRESETS = {
    "sports1m": Preset(
        name="sports1m",
        file_name="c3d_sports1m.weights.h5",
        description="C3D trained on Sports-1M by its authors (487 classes)",
        num_classes=487,
        converted_from="the authors' Caffe model conv3d_deepnetA_sport1m_iter_1900000 "
        "(C3D v1.0 fork format, ~320 MB)",
        source_file="conv3d_deepnetA_sport1m_iter_1900000",
        urls=(
            "https://www.dropbox.com/s/vr8ckp0pxgbldhs/conv3d_deepnetA_sport1m_iter_1900000?dl=1",
            "http://vlg.cs.dartmouth.edu/c3d/conv3d_deepnetA_sport1m_iter_1900000",
        ),
        how_to_get="c3d fetch-weights",
    ),
}
SPORTS1M = PRESETS["sports1m"]


def cache_dir():
    """``$C3D_HOME`` when set (and not empty), else ``~/.keras/models``; ``~`` expanded."""
    return os.path.expanduser(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def preset_path(name):
    """Where the converted weights of preset ``name`` are (or would be) cached."""
    return os.path.join(cache_dir(), PRESETS[name].file_name)
