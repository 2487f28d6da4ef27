"""Which kind of weights file a path holds, told from its first bytes, never from its name.

The C3D files in circulation are named anyhow: the authors' Caffe model has no
extension, DavideA/c3d-pytorch's PyTorch file is ``c3d.pickle``, mmaction2's is a
``.pth``, the Keras ports' are ``.h5``. Each format announces itself instead:

* HDF5 (Keras 1/2 ``.h5``, Keras 3 ``.weights.h5``): the 8-byte HDF5 signature
  (``h5py.is_hdf5``, which also finds it after a user block);
* ``torch.save``'s zip format (torch >= 1.6): a zip archive with a ``…/data.pkl``;
* ``torch.save``'s legacy format (torch < 1.6, e.g. DavideA's file of 2017): a pickle
  whose first object is torch's magic number ``0x1950a86a20f9469cfc6c``;
* anything else is taken for a Caffe model: protobuf has no signature, and the Caffe
  reader says precisely what is wrong with a file that is not one.

Reads a few bytes (and a zip's directory); loads neither torch nor Keras.
"""

import os
import zipfile

from converter.errors import SourceFileError

CAFFE = "caffe"
KERAS_HDF5 = "keras hdf5"
TORCH_ZIP = "torch zip"
TORCH_LEGACY = "torch legacy"
TORCH_FORMATS = (TORCH_ZIP, TORCH_LEGACY)

_HEAD = 64
_ZIP_SIGNATURE = b"PK\x03\x04"
# torch/serialization.py: MAGIC_NUMBER, pickled first as a LONG1 of 10 bytes (opcode 0x8a).
_TORCH_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_PICKLE_PROTO = 0x80


def check_readable(path, error=SourceFileError):
    """Return the size of ``path``, or raise ``error`` (one line) if it is no usable file."""
    try:
        if os.path.isdir(path):
            raise error(f"{path}: is a folder, not a file")
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise error(f"{path}: empty file")
    return size


def _is_torch_zip(path):
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def sniff(path):
    """The format of the file at ``path``: one of the constants above."""
    import h5py

    path = os.fspath(path)
    check_readable(path)
    try:
        with open(path, "rb") as file:
            head = file.read(_HEAD)
    except OSError as exc:
        raise SourceFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if h5py.is_hdf5(path):
        return KERAS_HDF5
    if head.startswith(_ZIP_SIGNATURE):
        if _is_torch_zip(path):
            return TORCH_ZIP
        raise SourceFileError(
            f"{path}: a zip archive, but not one torch.save wrote (no data.pkl in it)"
        )
    # The magic number is the pickle's first object: right after the protocol opcode
    # (protocol 2, torch.save's default), or after a frame header (protocols 4-5).
    if head[:1] == bytes([_PICKLE_PROTO]) and _TORCH_MAGIC in head[:32]:
        return TORCH_LEGACY
    return CAFFE
