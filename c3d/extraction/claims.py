"""Claim files: any number of ``c3d extract`` processes on the same inputs and output split
the work (e.g. one per GPU: ``CUDA_VISIBLE_DEVICES=i c3d extract … -o same/``).

A process claims a video before computing it by creating the video's claim file
atomically: a complete temporary file is hard-linked to the claim's name, which fails if
the claim exists, so a claim appears whole or not at all. It holds the claimant's host,
pid and the pid's start time. Another process that finds a claim skips the video.

A claim whose process is gone — same host, and no process with that pid and start time
(a pid can be reused) — is taken over. Two processes could both see the same stale claim,
so the takeover is serialised by a lock (``fcntl.flock``, released by the kernel if its
holder dies) and the claim is re-read under it. Claims of other hosts are respected: their
liveness cannot be checked from here.

Claims are removed once the video's output is written, and all of a process's claims when
it ends (the videos that failed in it included: a later run tries them again).
"""

import contextlib
import json
import os
import secrets
import socket

from c3d.atomic import locked, pid_alive, temporary_name


def _start_time(pid):
    """The pid's start time (clock ticks after boot, from /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of the whole line: starttime
    except (OSError, IndexError, ValueError):
        return None


class Claims:
    """The claims in ``folder``: one file per output key (``<key>.claim``).

    ``owner``: the run the claims name (default a new one of this process: its host, pid,
    the pid's start time and a random token, so two runs in one process never share a
    claim). A Ray decoding task claims on its driver's behalf, so the claim lives and dies
    with the run, not the task, and a task done again finds the claim its own.
    """

    def __init__(self, folder, owner=None):
        self.folder = folder
        self.host = socket.gethostname()
        me = {"host": self.host, "pid": os.getpid(), "start": _start_time(os.getpid())}
        self.me = dict(owner) if owner is not None else {**me, "run": secrets.token_hex(8)}
        self.held = set()

    def _path(self, key):
        return os.path.join(self.folder, *key.split("/")) + ".claim"

    def _create(self, path):
        """Atomically create the claim file ``path`` holding this process; False if it exists."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = temporary_name(path)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.me, f)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        finally:
            os.remove(tmp)

    def _read(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: treated as another host's (respected)

    def _stale(self, holder):
        if not holder or holder.get("host") != self.host:
            return False
        pid = holder.get("pid")
        if not isinstance(pid, int) or not pid_alive(pid):
            return True
        start = holder.get("start")
        return start is not None and _start_time(pid) not in (None, start)

    def _lock(self):
        return locked(self.folder, ".lock")

    def acquire(self, key):
        """Claim ``key``: True if this process may compute it now."""
        path = self._path(key)
        if self._create(path):
            self.held.add(key)
            return True
        holder = self._read(path)
        if holder is None:  # released meanwhile: try once more
            return self.acquire(key)
        if holder == self.me:  # ours already (a Ray task done again)
            self.held.add(key)
            return True
        if not self._stale(holder):
            return False
        with self._lock():
            if self._read(path) != holder:  # someone else took it over first
                return False
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            if not self._create(path):
                return False
        self.held.add(key)
        return True

    def release(self, key):
        if key in self.held:
            self.held.discard(key)
            with contextlib.suppress(OSError):
                os.remove(self._path(key))

    def release_all(self):
        for key in list(self.held):
            self.release(key)
