"""Write-to-temporary-then-rename, so an output file is either complete or absent."""

import contextlib
import os
import secrets


def temporary_name(final_path):
    """A hidden sibling of ``final_path`` that keeps its suffixes (Keras checks ``.weights.h5``)."""
    directory, base = os.path.split(os.fspath(final_path))
    return os.path.join(directory, f".tmp-{os.getpid()}-{secrets.token_hex(4)}.{base}")


def is_temporary_name(path):
    return os.path.basename(os.fspath(path)).startswith(".tmp-")


@contextlib.contextmanager
def atomic_output(final_path):
    """Yield a temporary path to write; on success it is renamed to ``final_path``.

    On any exception (Ctrl-C included) the temporary file is removed and
    ``final_path`` is left untouched. ``os.replace`` is atomic on POSIX within a
    file system, and the temporary file lives in the same folder.
    """
    final_path = os.fspath(final_path)
    parent = os.path.dirname(final_path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp_path = temporary_name(final_path)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as written:  # flush the data before the rename
            os.fsync(written.fileno())
        os.replace(tmp_path, final_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise
