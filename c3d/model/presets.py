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


# ---- Res3D-18 (C3D v1.1, issue 21) ------------------------------------------------------
# The C3D authors' Res3D-18 Caffe files (C3D v1.1 fork, upstream-style `layer` messages).
# Their sizes and hashes are not known here (None); `c3d convert` tells the architecture
# from the file's layers. PRESET_MODELS says which `--model` each preset is for.


def _res3d18_how_to_get(preset_name, source_file):
    return (
        f"download {source_file} (see the URLs of preset {preset_name}) and run "
        f"`c3d convert {source_file} {os.path.join(DEFAULT_CACHE, preset_name + '.weights.h5')}`"
    )


_RES3D18_SPORTS1M = "c3d_resnet18_sports1m_r2_iter_2800000.caffemodel"
_RES3D18_UCF101 = "c3d_resnet18_ucf101_r2_ft_iter_20000.caffemodel"
RES3D18_PRESETS = {
    "res3d18_sports1m": Preset(
        name="res3d18_sports1m",
        file_name="res3d18_sports1m.weights.h5",
        description="Res3D-18 (C3D v1.1) trained on Sports-1M by the C3D authors (487 classes)",
        num_classes=487,
        converted_from="the authors' Caffe model c3d_resnet18_sports1m_r2_iter_2800000 "
        "(C3D v1.1 fork, upstream-style Caffe)",
        source_file=_RES3D18_SPORTS1M,
        urls=(f"https://www.dropbox.com/s/qqfrg6h44d4jb46/{_RES3D18_SPORTS1M}?dl=1",),
        how_to_get=_res3d18_how_to_get("res3d18_sports1m", _RES3D18_SPORTS1M),
    ),
    "res3d18_ucf101": Preset(
        name="res3d18_ucf101",
        file_name="res3d18_ucf101.weights.h5",
        description="Res3D-18 (C3D v1.1) fine-tuned on UCF101 split 1 by the C3D authors "
        "(101 classes)",
        num_classes=101,
        converted_from="the authors' Caffe model c3d_resnet18_ucf101_r2_ft_iter_20000 "
        "(C3D v1.1 fork, upstream-style Caffe)",
        source_file=_RES3D18_UCF101,
        urls=(f"https://www.dropbox.com/s/bf5z2jw1pg07c9n/{_RES3D18_UCF101}?dl=1",),
        how_to_get=_res3d18_how_to_get("res3d18_ucf101", _RES3D18_UCF101),
    ),
}
PRESETS.update(RES3D18_PRESETS)
# preset -> the --model it is for (c3d.model.architectures); a preset not listed is C3D's
PRESET_MODELS = {name: "res3d18" for name in RES3D18_PRESETS}
# --model -> the weights it takes when --weights is not given
DEFAULT_PRESETS = {"c3d": "sports1m", "res3d18": "res3d18_sports1m"}


def cache_dir():
    """``$C3D_HOME`` when set (and not empty), else ``~/.keras/models``; ``~`` expanded."""
    return os.path.expanduser(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def preset_path(name):
    """Where the converted weights of preset ``name`` are (or would be) cached."""
    return os.path.join(cache_dir(), PRESETS[name].file_name)
