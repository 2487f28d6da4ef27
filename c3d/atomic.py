"""Write-to-temporary-then-rename, so an output file is either complete or absent.

``atomic_output`` keeps what the user set up around an output: a symlinked output stays a
symlink (the file it points to is replaced), and a replaced file keeps its permissions.

Nothing here is Linux-only: locks are ``filelock``'s (``flock`` on Linux and macOS,
``LockFileEx`` on Windows) and process liveness is psutil's, so every command that writes
imports and runs on a laptop too (no ``fcntl`` import, no ``/proc`` read).
"""

import contextlib
import errno
import os
import secrets
import shutil
import stat

import filelock
import psutil

from c3d.errors import C3DError

# A full or read-only disk is no problem of one video: whatever is written next fails too.
FATAL_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def temporary_name(final_path):
    """A hidden sibling of ``final_path`` that keeps its suffixes (Keras checks ``.weights.h5``)."""
    directory, base = os.path.split(os.fspath(final_path))
    return os.path.join(directory, f".tmp-{os.getpid()}-{secrets.token_hex(4)}.{base}")


def is_temporary_name(path):
    return os.path.basename(os.fspath(path)).startswith(".tmp-")


def temporary_owner_alive(name):
    """Whether the process that made temporary file ``name`` (.tmp-PID-…) still runs."""
    try:
        pid = int(os.path.basename(name).split("-")[1])
    except (IndexError, ValueError):
        return True  # not ours: leave it
    return pid_alive(pid)


def pid_alive(pid):
    """Whether process ``pid`` runs on this machine (a zombie, killed but not yet reaped by
    its parent, does not). psutil, not ``os.kill(pid, 0)``: on Windows that kills it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except (psutil.AccessDenied, OSError, ValueError):  # it exists, but is not ours to see
        return psutil.pid_exists(pid) if isinstance(pid, int) and pid > 0 else False


def process_start_time(pid):
    """When process ``pid`` started (seconds since the epoch, psutil's), None where unknown.

    With the pid it names one process: a pid is reused once its process ends.
    """
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError, ValueError):
        return None


def remove_stale_temporaries(folder, recursive=True):
    """Delete temporary files under ``folder`` left by killed processes on this machine."""
    if not os.path.isdir(folder):
        return
    for root, dirs, files in os.walk(folder):
        for name in files:
            if is_temporary_name(name) and not temporary_owner_alive(name):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(root, name))
        if not recursive:
            dirs.clear()


def resolved_output(path):
    """The file an output path stands for: a symlink's target (followed to the end)."""
    path = os.fspath(path)
    return os.path.realpath(path) if os.path.islink(path) else path


def check_free_space(path, needed_bytes):
    """Refuse to start writing ``needed_bytes`` where the disk has less free (one line)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return  # the write itself will say what is wrong
    if usage.free < needed_bytes:
        raise C3DError(
            f"{path}: not enough free space to write it ({needed_bytes / 1e6:.0f} MB needed, "
            f"{usage.free / 1e6:.0f} MB free)"
        )


def check_folder_writable(folder, what):
    """Create ``folder`` and a file in it (then remove it), or raise a one-line error."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = temporary_name(os.path.join(folder, "probe"))
        with open(probe, "wb") as f:
            f.write(b"c3d")
        os.remove(probe)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise C3DError(f"{folder}: cannot write {what} there ({reason})") from None


@contextlib.contextmanager
def locked(folder, name="lock"):
    """Hold ``folder/name`` exclusively: one holder at a time, threads of one process included.

    ``filelock.FileLock``: ``flock`` on Linux and macOS, ``LockFileEx`` on Windows, both
    released by the operating system if the holder dies, so a killed run never leaves it
    taken. A new lock object each time (filelock's locks are re-entrant per object): two
    threads holding separate objects exclude each other, as two processes do.
    """
    os.makedirs(folder, exist_ok=True)
    with filelock.FileLock(os.path.join(folder, name), thread_local=False):
        yield


@contextlib.contextmanager
def atomic_output(final_path):
    """Yield a temporary path to write; on success it is renamed to ``final_path``.

    On any exception (Ctrl-C included) the temporary file is removed and ``final_path`` is
    left untouched; the exception raised is the first one (a failing clean-up, e.g. on a
    read-only disk, never hides it). ``os.replace`` is atomic on POSIX within a file
    system, and the temporary file lives in the same folder as the file it replaces.
    """
    target = resolved_output(final_path)
    parent = os.path.dirname(target)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp_path = temporary_name(target)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as written:  # flush the data before the rename
            os.fsync(written.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp_path, stat.S_IMODE(os.stat(target).st_mode))  # keep its permissions
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise
