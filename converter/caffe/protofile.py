"""Protobuf files on disk: memory-mapped, parsed with the ``protobuf`` library, clear errors.

Files are memory-mapped, never read into a ``bytes`` object, and large messages are
parsed one top-level record at a time (``iter_records`` finds them: tag and length
only, protobuf parses each record), so a 320 MB model never sits in memory twice. The
upb parser of the ``protobuf`` package has no 64 MB message limit either.
"""

import contextlib
import mmap
import os

from google.protobuf.message import DecodeError

from converter.errors import CaffeFileError
from converter.sniff import check_readable

_TEXT_PROBE = 4096
WIRE_VARINT, WIRE_64BIT, WIRE_LEN, WIRE_32BIT = 0, 1, 2, 5
_PAGE = mmap.PAGESIZE


class FramingError(ValueError):
    """The top-level records of a buffer do not parse (corrupt or cut short)."""

    def __init__(self, message, field=None, start=None):
        super().__init__(message)
        self.field = field  # the field of a record that runs past the end, if known
        self.start = start  # where that record's contents begin


def check_input_file(path):
    """Return the size of ``path``, or raise a one-line error if it is no usable file."""
    return check_readable(path, CaffeFileError)


@contextlib.contextmanager
def mapped_file(path):
    """The file's bytes as a read-only ``mmap`` (errors as ``CaffeFileError``)."""
    check_input_file(path)
    try:
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as m:
            yield m
    except OSError as exc:
        raise CaffeFileError(f"{path}: cannot read ({exc.strerror or exc})") from None


def release_pages(mapping, start, end):
    """Drop the pages of ``mapping[start:end]`` from this process's memory (re-readable).

    The bytes already went into a parsed message; without this every page of the file
    would stay resident until the mapping is closed.
    """
    if not hasattr(mapping, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    first = start - start % _PAGE
    if end > first:
        with contextlib.suppress(OSError, ValueError):
            mapping.madvise(mmap.MADV_DONTNEED, first, end - first)


def looks_like_text(head):
    """True for bytes that are printable UTF-8 text (a .prototxt, a README, HTML, …)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # The probe may cut a multi-byte character at its end.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in "\t\n\r\f\v" for ch in text)


def _varint(buffer, pos):
    """(value, next position) of the varint at ``pos``; value None if it is cut off."""
    value = shift = 0
    while pos < len(buffer):
        byte = buffer[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            return None, pos
    return None, pos


def iter_records(buffer):
    """Yield (field number, wire type, start, end) of each top-level record of a message.

    Only the framing is read (a tag, then a varint, a fixed size or a length); the
    records themselves are left to protobuf. Raises ``FramingError`` at the first
    record that is malformed or runs past the end of ``buffer``.
    """
    pos, size = 0, len(buffer)
    while pos < size:
        tag, start = _varint(buffer, pos)
        if tag is None:
            raise FramingError(f"a broken tag at byte {pos}")
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise FramingError(f"field number 0 at byte {pos}")
        if wire == WIRE_VARINT:
            value, end = _varint(buffer, start)
            if value is None:
                raise FramingError(f"a broken number at byte {start}")
        elif wire in (WIRE_64BIT, WIRE_32BIT):
            end = start + (8 if wire == WIRE_64BIT else 4)
        elif wire == WIRE_LEN:
            length, start = _varint(buffer, start)
            if length is None:
                raise FramingError(f"a broken length at byte {pos}")
            end = start + length
        else:
            raise FramingError(f"wire type {wire} at byte {pos}")
        if end > size:
            raise FramingError(f"{end - size} bytes short", field=field, start=start)
        yield field, wire, start, end
        pos = end


def string_field(record, field_number):
    """The first length-delimited ``field_number`` of a (possibly cut) record, as text."""
    try:
        for field, wire, start, end in iter_records(record):
            if field == field_number and wire == WIRE_LEN:
                return bytes(record[start:end]).decode("utf-8", "replace")
    except FramingError:
        pass
    return None


def parse_file(path, message_class, kind):
    """Parse a whole (small) file as one ``message_class``; ``kind`` names it in errors.

    Returns (message, head): ``head`` is the start of the file, kept so a caller that
    finds the message empty can still say "this is a text file".
    """
    path = os.fspath(path)
    with mapped_file(path) as mapping:
        head = bytes(mapping[:_TEXT_PROBE])
        view = memoryview(mapping)
        try:
            return message_class.FromString(view), head
        except DecodeError:
            pass
        finally:
            view.release()
    raise CaffeFileError(f"{path}: {unreadable(kind, head)}")


def unreadable(kind, head, detail="truncated, corrupt or another format"):
    """The problem to report for bytes protobuf could not parse as a ``kind``."""
    if looks_like_text(head):
        return f"a text file, not a binary {kind}"
    return f"not a {kind} (protobuf cannot parse it: {detail})"


def head_of(mapping):
    return bytes(mapping[:_TEXT_PROBE])
