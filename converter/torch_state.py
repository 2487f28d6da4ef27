"""PyTorch C3D weights (``torch.save`` files) as a ``WeightSource`` for the conversion path.

Two layouts are in circulation, both converted from the authors' Sports-1M Caffe model:

* DavideA/c3d-pytorch's ``c3d.pickle`` (2017, torch's legacy non-zip format): a bare
  state dict ``conv1.weight`` … ``conv5b.bias``, ``fc6`` … ``fc8``, named like our layers;
* mmaction2's ``c3d_sports1m_pretrain_20201016-dcc47ddc.pth``: its ``C3D`` backbone
  (``mmaction/models/backbones/c3d.py``), each convolution an mmcv ``ConvModule``
  (``conv1a.conv.weight`` … ``conv5b.conv.bias``, Caffe's names), then ``fc6``, ``fc7`` and
  no fc8. What mmaction2 itself saves is also read: a checkpoint dict ``{"meta",
  "state_dict", "message_hub", "optimizer", …}`` whose state dict is the whole recognizer
  (``backbone.`` before the backbone's keys, the classifier ``cls_head.fc_cls``, which
  becomes fc8), ``module.`` before every key when saved from a data-parallel wrapper.

PyTorch stores a Conv3d weight ``(out, in, d, h, w)`` and a Linear weight ``(out, in)``
as Caffe does, and both ports flatten pool5's ``(C, D, H, W)`` output as Caffe does, so
the tensors are Caffe-layout arrays as they are (their own pool5 pads symmetrically,
not in Caffe's ceil mode; the weights are the same).

Files are read with ``torch.load(weights_only=True)``: tensors and plain containers,
never code from the file. Objects a checkpoint carries besides the weights (mmengine's
``HistoryBuffer`` in ``message_hub``, numpy scalars in ``meta``) become inert
placeholders instead of failing the load, or of being imported. torch is an optional
dependency (``pip install 'c3d-keras[torch]'``); without it, one line says so.
"""

import dataclasses
import pickle
import re

from c3d.model import plan
from converter.errors import SourceFileError
from converter.sniff import TORCH_ZIP
from converter.source import SourceLayer, WeightSource

INSTALL_HINT = "pip install 'c3d-keras[torch]'"
# Wrappers whose names go before the model's keys: DataParallel's, mmaction2's Recognizer3D.
WRAPPER_PREFIXES = ("module.", "backbone.")
BLOB_ORDER = ("weight", "bias")
_MAX_PLACEHOLDERS = 100  # distinct foreign classes/functions a checkpoint may carry
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+) was not an allowed global")


@dataclasses.dataclass(frozen=True)
class TorchLayout:
    name: str
    prefixes: dict  # {C3D layer: the key prefix of its tensors}


def _layouts():
    mmaction2 = {conv.name: f"{conv.caffe_name}.conv" for conv in plan.CONVS}
    mmaction2 |= {dense.name: dense.name for dense in plan.DENSES if dense.units is not None}
    mmaction2[plan.CLASSIFIER] = "cls_head.fc_cls"  # I3DHead's Linear, of a fine-tuned model
    return (
        TorchLayout("DavideA/c3d-pytorch", {name: name for name in plan.WEIGHTED_LAYERS}),
        TorchLayout("mmaction2", mmaction2),
    )


LAYOUTS = _layouts()


def _import_torch(path, container):
    try:
        import torch
    except ImportError:
        raise SourceFileError(
            f"{path}: a PyTorch file ({container}); reading it needs torch: {INSTALL_HINT}"
        ) from None
    return torch


def _placeholder(qualified_name):
    """An inert class standing for ``qualified_name`` (module.name) while unpickling."""
    module, _, name = qualified_name.rpartition(".")

    def new(cls, *args, **kwargs):
        return object.__new__(cls)

    return type(
        name,
        (),
        {
            "__module__": module,
            "__qualname__": name,
            "__new__": new,
            "__init__": lambda self, *args, **kwargs: None,
            "__setstate__": lambda self, state: None,
        },
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The line of torch's long weights-only message that says what was refused.
_REFUSAL = re.compile(r"GLOBAL|Can only|Trying to|Unsupported|WeightsUnpickler error")


def _reason(exc):
    """The one line of a torch.load error that says what is wrong."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    refusals = [line for line in lines if _REFUSAL.search(line)]
    line = (refusals or lines or [type(exc).__name__])[0]
    return line.removeprefix("WeightsUnpickler error: ")


def load_checkpoint(path, container):
    """``torch.load`` of ``path`` on the CPU with ``weights_only=True`` (zip files mapped).

    The weights-only unpickler refuses any class or function outside torch's allowlist;
    those a checkpoint names are allowlisted as inert placeholders (``_placeholder``), so
    nothing of the file's own code runs and the tensors load.
    """
    torch = _import_torch(path, container)
    zipped = container == TORCH_ZIP
    placeholders = {}
    if zipped:
        try:
            for name in torch.serialization.get_unsafe_globals_in_checkpoint(path):
                placeholders[name] = _placeholder(name)
        except Exception:  # a corrupt file: torch.load below says why
            pass
    while True:
        try:
            with torch.serialization.safe_globals(list(placeholders.values())):
                return torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
        except pickle.UnpicklingError as exc:
            match = _UNSUPPORTED_GLOBAL.search(str(exc))
            name = match.group(1) if match else None
            if name is None or name in placeholders or len(placeholders) >= _MAX_PLACEHOLDERS:
                raise SourceFileError(
                    f"{path}: torch's weights-only loader refuses it ({_reason(exc)})"
                ) from None
            placeholders[name] = _placeholder(name)
        except (RuntimeError, EOFError, OSError, ValueError, TypeError) as exc:
            raise SourceFileError(f"{path}: not a readable PyTorch file ({_reason(exc)})") from None


def _state_dict(path, checkpoint, torch):
    """(the state dict, how it was wrapped) of a loaded checkpoint."""
    if not isinstance(checkpoint, dict):
        raise SourceFileError(
            f"{path}: a PyTorch file holding a {type(checkpoint).__name__}, not a state dict"
        )
    if isinstance(checkpoint.get("state_dict"), dict):
        others = sorted(k for k in checkpoint if k != "state_dict")
        wrapping = "state_dict" + "".join(f" + {k}" for k in others)
        return checkpoint["state_dict"], f"a checkpoint ({wrapping})"
    if not any(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        keys = ", ".join(map(str, list(checkpoint)[:6]))
        raise SourceFileError(
            f"{path}: a PyTorch file holding a dict without tensors or a state_dict (keys: {keys})"
        )
    return checkpoint, "a bare state dict"


def _strip(key):
    """``key`` without its wrappers' prefixes, and the prefixes removed."""
    removed = []
    for prefix in WRAPPER_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix) :]
            removed.append(prefix)
    return key, removed


def _layout_of(path, groups):
    """The layout whose layers' key prefixes the file's tensors match best."""

    def matches(layout):
        return sum(prefix in groups for prefix in layout.prefixes.values())

    best = max(LAYOUTS, key=matches)
    if not matches(best):
        keys = ", ".join(key for blobs in list(groups.values())[:3] for _, key in blobs)
        raise SourceFileError(
            f"{path}: a PyTorch state dict, but not C3D's in a known layout "
            "(DavideA/c3d-pytorch: conv1.weight … fc8.bias; mmaction2: conv1a.conv.weight … "
            f"fc7.bias); its first keys: {keys}"
        )
    return best


def open_torch_state(path, container):
    """First pass: the ``WeightSource`` of a ``torch.save`` file (loaded once, on the CPU)."""
    torch = _import_torch(path, container)
    state, wrapping = _state_dict(path, load_checkpoint(path, container), torch)
    tensors, groups, removed = {}, {}, set()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue  # e.g. a version number some state dicts carry
        stripped, prefixes = _strip(str(key))
        removed.update(prefixes)
        tensors[stripped] = value
        name, _, blob = stripped.rpartition(".")
        groups.setdefault(name or stripped, []).append((blob, stripped))
    del state  # optimizer state and the like go with the checkpoint
    layout = _layout_of(path, groups)
    keras_of = {prefix: layer for layer, prefix in layout.prefixes.items()}
    layers, keys = [], {}
    for name, blobs in groups.items():
        # weight, bias first; anything else (a BatchNorm's running_mean, …) after them,
        # so that the blob count check catches it
        blobs = sorted(blobs, key=lambda b: BLOB_ORDER.index(b[0]) if b[0] in BLOB_ORDER else 2)
        keys[name] = [key for _, key in blobs]
        shapes = [tuple(tensors[key].shape) for key in keys[name]]
        layers.append(SourceLayer(name, keras_of.get(name), shapes))

    def arrays():
        for layer in layers:
            blobs = [_to_numpy(tensors.pop(key), torch) for key in keys[layer.name]]
            ready = [(layer.keras_name, blobs)]
            del blobs
            yield ready.pop()

    container_name = "zip format" if container == TORCH_ZIP else "legacy (pre-1.6) format"
    details = [f"torch {container_name}", wrapping, f"{layout.name} layout"]
    if removed:
        details.append("keys under " + " and ".join(sorted(removed, key=WRAPPER_PREFIXES.index)))
    details.append(f"{len(tensors)} tensors")
    return WeightSource(
        path=path,
        kind="PyTorch file",
        details=details,
        column="PyTorch",
        layers=layers,
        names=dict(layout.prefixes),
        arrays=arrays,
    )


def _to_numpy(tensor, torch):
    """A float32 numpy array of ``tensor`` (a view where it already is float32 on the CPU)."""
    tensor = tensor.detach()
    if tensor.dtype != torch.float32:
        tensor = tensor.to(torch.float32)
    return tensor.numpy()
