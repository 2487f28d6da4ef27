"""Caffe blobs as numpy arrays, for both dialects, and Caffe mean files (.binaryproto).

Blob layouts (see ``caffe.proto``):

* C3D v1.0 fork: always 5-D ``(num, channels, length, height, width)``; a 3-D conv
  kernel is ``(out, in, d, h, w)``, a bias ``(1, 1, 1, 1, out)``, a fully-connected
  weight ``(1, 1, 1, out, in)``.
* upstream Caffe: N-D ``shape.dim`` (``(out, in, d, h, w)``, ``(out,)``, ``(out, in)``),
  or the legacy 4-D ``num, channels, height, width`` when ``shape`` is absent; values
  in ``data`` (float) or ``double_data``.

Arrays come straight from the bytes of the packed field (``np.frombuffer``): read-only
float32 arrays in Caffe's C-order layout, no per-element Python work.
"""

import math

import numpy as np
from google.protobuf.unknown_fields import UnknownFieldSet

from converter.caffe.protofile import looks_like_text, parse_file
from converter.caffe.schema import caffe_messages
from converter.errors import CaffeFileError

_WIRE_32BIT, _WIRE_64BIT = 5, 1


def _joined(chunks):
    # One record per packed field is what every writer produces; join only if split.
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


def _unpacked_field(blob, numbers):
    """True if ``blob`` carries one of ``numbers`` as unpacked floats/doubles."""
    return any(
        field.field_number in numbers and field.wire_type in (_WIRE_32BIT, _WIRE_64BIT)
        for field in UnknownFieldSet(blob)
    )


def _to_array(raw, dtype, dims, where):
    if any(d < 0 for d in dims):
        raise CaffeFileError(f"{where} has a negative dimension {tuple(dims)}")
    itemsize = np.dtype(dtype).itemsize
    if len(raw) % itemsize:
        raise CaffeFileError(f"{where}: its data is not a whole number of values")
    count, needed = len(raw) // itemsize, math.prod(dims)
    if count != needed:
        raise CaffeFileError(f"{where} has {count} values, its shape {tuple(dims)} needs {needed}")
    array = np.frombuffer(raw, dtype=dtype).reshape(dims)
    return array if array.dtype == np.float32 else array.astype(np.float32)


def c3d_blob_array(blob, where):
    """A C3D-fork ``C3DBlobProto`` as a float32 array of shape (num, ch, length, h, w)."""
    dims = (blob.num, blob.channels, blob.length, blob.height, blob.width)
    raw = _joined(blob.data)
    if not raw and math.prod(dims) and _unpacked_field(blob, {6}):
        raise CaffeFileError(f"{where} stores its floats unpacked, which is not supported")
    return _to_array(raw, "<f4", dims, where)


def caffe_blob_shape(blob):
    """An upstream ``BlobProto``'s shape: ``shape.dim``, else the legacy 4-D fields."""
    if blob.HasField("shape"):
        return tuple(blob.shape.dim)
    return (blob.num, blob.channels, blob.height, blob.width)


def caffe_blob_array(blob, where):
    """An upstream-Caffe ``BlobProto`` as a float32 array of its own shape."""
    dims = caffe_blob_shape(blob)
    if blob.double_data and not blob.data:
        return _to_array(_joined(blob.double_data), "<f8", dims, where)
    raw = _joined(blob.data)
    if not raw and math.prod(dims) and _unpacked_field(blob, {5, 8}):
        raise CaffeFileError(f"{where} stores its floats unpacked, which is not supported")
    return _to_array(raw, "<f4", dims, where)


# ---- mean files ----------------------------------------------------------------------


def _has_values(blob):
    return bool(blob.data) or bool(getattr(blob, "double_data", None))


def read_mean_blob(path):
    """Read a Caffe mean ``.binaryproto`` (either dialect) as float32 (C, L, H, W).

    This is the layout of ``c3d.resources.sports1m_mean_cube()`` and what
    ``c3d.preprocessing`` takes: Caffe's own order, channels BGR as Caffe stored them,
    the leading ``num`` (which must be 1) dropped.

    The dialect is told by where the values are: both schemas share field numbers
    1-4, but the values are field 5 (upstream) or field 6 (C3D fork), and the other
    schema sees no values in the same bytes.
    """
    messages = caffe_messages()
    kind = "Caffe mean .binaryproto"
    blob, head = parse_file(path, messages["BlobProto"], kind)
    if _has_values(blob):
        mean = caffe_blob_array(blob, f"{path}: mean blob")
    else:
        blob, _ = parse_file(path, messages["C3DBlobProto"], kind)
        if not _has_values(blob):
            if looks_like_text(head):
                raise CaffeFileError(f"{path}: a text file, not a binary {kind}")
            raise CaffeFileError(f"{path}: not a {kind} (no blob values in it)")
        mean = c3d_blob_array(blob, f"{path}: mean blob")
    del blob
    if mean.ndim == 4:
        raise CaffeFileError(
            f"{path}: a 4-D image mean {mean.shape}; C3D needs a 5-D clip mean "
            "(num, channels, length, height, width)"
        )
    if mean.ndim != 5 or mean.shape[0] != 1:
        raise CaffeFileError(
            f"{path}: mean blob has shape {mean.shape}, expected (1, 3, length, height, width)"
        )
    if mean.shape[1] != 3:
        raise CaffeFileError(f"{path}: mean blob has {mean.shape[1]} channels, C3D needs 3 (BGR)")
    return np.array(mean[0], dtype=np.float32)  # a writable copy (a few MB)
