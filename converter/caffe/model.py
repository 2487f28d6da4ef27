"""Reading a Caffe ``.caffemodel`` (C3D v1.0 fork or upstream Caffe) into numpy arrays.

``iter_layers`` parses and yields one layer at a time, so a converter can hand each
layer's arrays over and drop them before the next is read. The dialect is told by the
field the layers are in: 2 (V1 ``layers``, the C3D fork) or 100 (``layer``, upstream
Caffe).
"""

import dataclasses
import os

from google.protobuf.message import DecodeError

from converter.caffe.blobs import c3d_blob_array, caffe_blob_array
from converter.caffe.protofile import (
    WIRE_LEN,
    FramingError,
    head_of,
    iter_records,
    looks_like_text,
    mapped_file,
    release_pages,
    string_field,
    unreadable,
)
from converter.caffe.schema import caffe_messages
from converter.errors import CaffeFileError

C3D_FORK = "c3d"  # NetParameter.layers = 2, V1 layers, 5-D blobs
UPSTREAM = "caffe"  # NetParameter.layer = 100, N-D blobs
DIALECT_NAMES = {C3D_FORK: "C3D v1.0 fork", UPSTREAM: "upstream Caffe"}
KIND = "Caffe model (.caffemodel)"

# NetParameter field -> (dialect, layer message, field of the layer's name)
_LAYER_FIELDS = {
    2: (C3D_FORK, "V1LayerParameter", 4),
    100: (UPSTREAM, "LayerParameter", 1),
}


@dataclasses.dataclass
class CaffeLayer:
    name: str
    type: str  # upstream: the type string; C3D fork: "V1 type N" (an enum number)
    blobs: list  # float32 arrays, shapes exactly as stored in the file
    dialect: str = C3D_FORK


def _layer(path, dialect, message, index):
    name = message.name or f"#{index}"
    if dialect == C3D_FORK:
        layer_type, to_array = f"V1 type {message.type}", c3d_blob_array
    else:
        layer_type, to_array = message.type, caffe_blob_array
    blobs = [
        to_array(blob, f"{path}: layer {name}, blob {i}") for i, blob in enumerate(message.blobs)
    ]
    return CaffeLayer(name, layer_type, blobs, dialect)


def _framing_problem(path, view, exc, count):
    if exc.field in _LAYER_FIELDS and exc.start is not None:
        name = string_field(view[exc.start :], _LAYER_FIELDS[exc.field][2])
        where = f"layer {name}" if name else f"layer {count + 1}"
        return CaffeFileError(f"{path}: truncated (ends inside {where}, {exc})")
    if count == 0:
        return CaffeFileError(f"{path}: {unreadable(KIND, head_of(view))}")
    return CaffeFileError(f"{path}: corrupt after layer {count} ({exc})")


def iter_layers(path):
    """Yield each layer of a ``.caffemodel`` as a ``CaffeLayer`` with its arrays.

    Each layer record is parsed by protobuf on its own, its pages of the file mapping
    are released and its blobs become numpy arrays before it is yielded: memory holds
    the layers the caller keeps, plus one layer's parse.
    """
    path = os.fspath(path)
    messages = caffe_messages()
    count, dialect = 0, None
    with mapped_file(path) as mapping:
        view = memoryview(mapping)
        try:
            records = iter_records(view)
            while True:
                try:
                    field, wire, start, end = next(records)
                except StopIteration:
                    break
                except FramingError as exc:
                    raise _framing_problem(path, view, exc, count) from None
                if field not in _LAYER_FIELDS or wire != WIRE_LEN:
                    continue  # the net's name, inputs, …
                this_dialect, message_name, _ = _LAYER_FIELDS[field]
                if dialect not in (None, this_dialect):
                    raise CaffeFileError(
                        f"{path}: has layers in both the V1 (field 2) and the current "
                        "(field 100) format"
                    )
                dialect = this_dialect
                with view[start:end] as record:
                    try:
                        message = messages[message_name].FromString(record)
                    except DecodeError:
                        raise CaffeFileError(
                            f"{path}: layer {count + 1} is corrupt (protobuf cannot parse it)"
                        ) from None
                release_pages(mapping, start, end)
                count += 1
                # Handed over through a list so that this frame keeps neither the parsed
                # message nor the layer while the caller works on it.
                ready = [_layer(path, dialect, message, count)]
                del message
                yield ready.pop()
            if count == 0:
                if looks_like_text(head_of(view)):
                    raise CaffeFileError(f"{path}: a text file (a .prototxt?), not a binary {KIND}")
                raise CaffeFileError(f"{path}: no layers in it; not a {KIND}")
        finally:
            view.release()
