"""Published weights by name, where they come from, and the folder they are cached in: data.

In the style of keras.applications and keras-hub: ``C3D_model(weights="sports1m")``,
``load_model("ucf101")`` and ``c3d extract --weights sports1m`` name a row of ``PRESETS``.
``c3d.model.resolve`` turns a name into ``cache_dir()/file_name``, fetching and converting
the published file on first use (``converter.fetch``).

Each name is one published file and nothing else: its sources are the same bytes at
other addresses, never another checkpoint "of the same model" (features from another
file are other features). Where the publisher gives a size or a sha256, the download is
checked against it. ``architecture`` says which network the file is for: every row here
is ``"c3d"``, the layer plan of ``c3d.model.plan``; other architectures add rows with
their own value, and the loader refuses a row it cannot build.

mmaction2's C3D UCF101 fine-tune (``c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb``)
is not here: its backbone has our weights' shapes, but pools conv5b with symmetric padding
(``padding=(0, 1, 1)``, a window shifted by a pixel against Caffe's ceil mode) and was
trained on RGB frames minus a per-channel mean, so our C3D would give other numbers than
the model it was trained as.

Pure data and ``os``: importing it loads no Keras.
"""

import dataclasses
import os

CACHE_ENV = "C3D_HOME"  # the cache folder, when set
DEFAULT_CACHE = os.path.join("~", ".keras", "models")  # where keras.applications caches
MIRRORS_ENV = "C3D_MIRRORS"  # base URLs tried first, the published file name appended
OFFLINE_ENV = "C3D_OFFLINE"  # 1: never download


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    architecture: str  # the network the file is for ("c3d": c3d.model.plan)
    num_classes: int | None  # fc8's size; None: no fc8 (features only)
    description: str
    source_file: str  # the file as published (its name in a mirror, and in the cache)
    source_format: str  # what converts it: "caffe", "torch"
    urls: tuple  # where it is published, tried in this order
    size: int | None = None  # the published file's bytes, where known
    sha256: str | None = None  # its sha256, or the start of it that the publisher names
    labels: str | None = None  # the class names (package data in c3d/data), fc8's order
    published_by: str = ""  # who published it, and where that is said

    @property
    def file_name(self):
        """The converted Keras 3 weights, in ``cache_dir()``: ``c3d_sports1m.weights.h5``."""
        if self.name.startswith(self.architecture):
            return f"{self.name}.weights.h5"
        return f"{self.architecture}_{self.name}.weights.h5"

    @property
    def how_to_get(self):
        """A command that fetches it, after a plain ``pip install c3d-keras``."""
        return "c3d fetch-weights" + ("" if self.name == DEFAULT else f" {self.name}")


DEFAULT = "sports1m"

PRESETS = {
    preset.name: preset
    for preset in (
        Preset(
            name="sports1m",
            architecture="c3d",
            num_classes=487,
            description="C3D trained on Sports-1M by its authors",
            source_file="conv3d_deepnetA_sport1m_iter_1900000",
            source_format="caffe",
            urls=(
                "https://www.dropbox.com/s/vr8ckp0pxgbldhs/conv3d_deepnetA_sport1m_iter_1900000?dl=1",
                "http://vlg.cs.dartmouth.edu/c3d/conv3d_deepnetA_sport1m_iter_1900000",
            ),
            labels="sports1m_labels.txt",
            published_by="the C3D authors (C3D v1.0 User Guide; Caffe, C3D v1.0 fork format)",
        ),
        Preset(
            name="ucf101",
            architecture="c3d",
            num_classes=101,
            description="the authors' Sports-1M C3D fine-tuned on UCF101 split 1",
            source_file="c3d_ucf101_finetune_whole_iter_20000",
            source_format="caffe",
            urls=(
                "https://www.dropbox.com/s/mkc9q7g4wnqnmcv/c3d_ucf101_finetune_whole_iter_20000?dl=1",
                # the authors' copy for where Dropbox is blocked (facebookarchive/C3D#182)
                "https://drive.google.com/uc?export=download&id=0Bx-2rTokRAt1UTM5NzJhZGtKc2M",
            ),
            labels="ucf101_labels.txt",
            published_by="the C3D authors (C3D v1.0 User Guide, facebookarchive/C3D#182)",
        ),
        Preset(
            name="sports1m_mmaction2",
            architecture="c3d",
            num_classes=None,
            description="mmaction2's C3D Sports-1M backbone: conv1a-fc7, no fc8 (features)",
            source_file="c3d_sports1m_pretrain_20201016-dcc47ddc.pth",
            source_format="torch",
            urls=(
                "https://download.openmmlab.com/mmaction/recognition/c3d/"
                "c3d_sports1m_pretrain_20201016-dcc47ddc.pth",
            ),
            # mmaction2 names its checkpoints NAME_DATE-HASH: the first 8 hex of the sha256
            sha256="dcc47ddc",
            published_by="open-mmlab/mmaction2 (configs/_base_/models/c3d_sports1m_pretrained.py)",
        ),
    )
}
SPORTS1M = PRESETS[DEFAULT]


def is_preset(weights):
    """True for the name of a preset (``"sports1m"``), False for anything else (a path)."""
    return isinstance(weights, str) and weights in PRESETS


def others(name):
    """The other presets' names, for a message about ``name``."""
    return [other for other in PRESETS if other != name]


def cache_dir():
    """``$C3D_HOME`` when set (and not empty), else ``~/.keras/models``; ``~`` expanded."""
    return os.path.expanduser(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def preset_path(name, folder=None):
    """Where the converted weights of preset ``name`` are (or would be) cached."""
    return os.path.join(cache_dir() if folder is None else folder, PRESETS[name].file_name)


def mirrors():
    """The base URLs of ``$C3D_MIRRORS`` (separated by spaces or commas), in order."""
    text = os.environ.get(MIRRORS_ENV, "")
    return [url for url in text.replace(",", " ").split() if url]


def sources(preset):
    """Where to get ``preset``'s file, in order: each mirror, then the published URLs."""
    return [f"{base.rstrip('/')}/{preset.source_file}" for base in mirrors()] + list(preset.urls)


def offline():
    """Whether ``$C3D_OFFLINE`` turns downloading off (``1``, ``true``, ``yes``)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
