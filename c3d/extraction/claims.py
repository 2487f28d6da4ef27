"""Claim files: any number of ``c3d extract`` processes on the same inputs and output split
the work (e.g. one per GPU: ``CUDA_VISIBLE_DEVICES=i c3d extract … -o same/``), on one
machine or on several sharing a filesystem.

A process claims a video before computing it by creating the video's claim file
atomically: a complete temporary file is hard-linked to the claim's name, which fails if
the claim exists, so a claim appears whole or not at all. It holds the claimant's host,
pid, the pid's start time (psutil's: a pid can be reused) and a renewal count. Another
process that finds a claim skips the video.

Claims are leases. While its process lives, a thread renews each of its claims every
``renew_every`` seconds (a quarter of the claim timeout, at most 30 s) by rewriting it with
the count plus one: the claim's bytes are its *renewal stamp*. A claim is taken over

- at once, when it is this host's and no process with its pid and start time runs (psutil;
  a zombie counts as gone);
- whatever host made it, when its stamp has not changed for the claim timeout
  (``--claim-timeout``, default 300 s), as this process measures it on its own monotonic
  clock from the moment it first saw that stamp. No two hosts' clocks need to agree: only
  "has it changed since I looked" is asked of the file. A claim also records its renewal
  interval, and is never judged before three of them have passed, so a process with a
  short timeout cannot take a live claim of one that renews less often.

Every process keeps what it saw of each claim (``_SEEN``, per claim file): the stamp, and
when it first saw it. At the end of a run, ``settle`` asks of the run's videos still claimed
by others whether each claim is alive (renewing, or a live process of this host) or stale,
watching those it cannot yet tell for up to the timeout; stale ones are taken over and
done by the same run (``finish_claimed``).

Takeovers and renewals are serialised by one lock per claims folder (``c3d.atomic.locked``,
released by the operating system if its holder dies), under which the claim is re-read: a
renewal only rewrites a claim that is still its own, a takeover only removes the very
stamp it judged stale. Claims are removed once the video's output is written, and all of a
process's claims when it ends (the videos that failed in it included: a later run tries
them again).
"""

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import socket
import sys
import threading
import time

from c3d.atomic import locked, pid_alive, process_start_time, temporary_name

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0  # five minutes: ten renewals missed before a claim is taken over
TIMEOUT_RANGE_S = (1.0, 86_400.0)  # --claim-timeout: a second (tests) to a day
MAX_RENEW_EVERY_S = 30.0
RENEWALS_BEFORE_STALE = 3  # a claim is never stale before three of its renewals are due
WATCH_POLL_S = 0.25  # how often ``settle`` re-reads the claims it watches
SUFFIX = ".claim"

ALIVE, STALE, FREE, WATCHING = "alive", "stale", "free", "watching"


@dataclasses.dataclass
class Lease:
    """This process's claim settings: how long a silent claim lives, how often ours renew."""

    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def renew_every(self):
        return min(MAX_RENEW_EVERY_S, self.timeout / 4)


LEASE = Lease()  # set once by the command (``configure``); read by every ``Claims``


def configure(timeout=None):
    """Set this process's claim timeout (``--claim-timeout``); returns the ``Lease``."""
    LEASE.timeout = DEFAULT_TIMEOUT_S if timeout is None else float(timeout)
    return LEASE


# claim file path -> (stamp bytes, monotonic time this process first saw that stamp, when it
# last read it, and when it last read the stamp before it: None if it saw no change there)
_SEEN = {}
_SEEN_LOCK = threading.Lock()


def _observe(path, stamp):
    """(when ``stamp`` was first seen at ``path``, on this process's monotonic clock; when
    this process last read another stamp there before it, None if never: a change seen
    between two of its own reads is a renewal, or a new holder)."""
    now = time.monotonic()
    with _SEEN_LOCK:
        seen = _SEEN.get(path)
        if seen is None or seen[0] != stamp:
            _SEEN[path] = (stamp, now, now, None if seen is None else seen[2])
        else:
            _SEEN[path] = (stamp, seen[1], now, seen[3])
        return _SEEN[path][1], _SEEN[path][3]


def _forget(path):
    with _SEEN_LOCK:
        _SEEN.pop(path, None)


@dataclasses.dataclass
class Holder:
    """What a claim file says, and what this process makes of it."""

    key: str
    state: str  # ALIVE, STALE, FREE (no claim) or WATCHING (not yet told)
    host: str = "?"
    pid: object = "?"
    unchanged_s: float = 0.0  # how long this process has seen the same stamp

    def describe(self):
        return f"host {self.host}, pid {self.pid}"


class Claims:
    """The claims in ``folder``: one file per output key (``<key>.claim``).

    ``owner``: the run the claims name (default a new one of this process: its host, pid,
    the pid's start time and a random ``run`` token, so two runs in one process never share
    a claim); another process may claim on a run's behalf by giving its ``me`` (and
    ``renew=False``: the run's own object renews, after ``hold(key)``, so a claim lives
    and dies with the run, not with the process that made it).
    """

    def __init__(self, folder, lease=None, owner=None, renew=True):
        self.folder = folder
        self.lease = lease or LEASE
        self.renews = renew
        self.host = socket.gethostname()
        pid = os.getpid()
        me = {"host": self.host, "pid": pid, "start": process_start_time(pid)}
        self.me = dict(owner) if owner is not None else {**me, "run": secrets.token_hex(8)}
        self.held = set()
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer = None

    def _path(self, key):
        return os.path.join(self.folder, *key.split("/")) + SUFFIX

    def _content(self, renewed):
        claim = {**self.me, "renew_every": self.lease.renew_every}
        return json.dumps({**claim, "renewed": renewed}).encode("utf-8")

    def _create(self, path):
        """Atomically create the claim file ``path`` holding this process; False if it exists."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = temporary_name(path)
        with open(tmp, "wb") as f:
            f.write(self._content(0))
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        finally:
            os.remove(tmp)

    @staticmethod
    def _read(path):
        """The claim's bytes (its renewal stamp), None if there is no claim."""
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError:
            return b"?"  # unreadable: a stamp that never changes (taken over after the timeout)

    @staticmethod
    def _parse(stamp):
        try:
            holder = json.loads(stamp.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {}
        return holder if isinstance(holder, dict) else {}

    def _mine(self, holder):
        return holder.get("run") is not None and holder.get("run") == self.me.get("run")

    def _judge(self, key, path, stamp, since=None):
        """The ``Holder`` of the claim ``stamp`` at ``path``, as this process sees it now.

        Another host's claim is STALE once its stamp has stayed the same for the timeout;
        ALIVE when this process saw it change between two of its reads (the first at or after
        ``since``, if given); else WATCHING.
        """
        holder = self._parse(stamp)
        found = Holder(key, WATCHING, str(holder.get("host", "?")), holder.get("pid", "?"))
        if holder and holder.get("host") == self.host:
            pid, start = holder.get("pid"), holder.get("start")
            if not isinstance(pid, int) or not pid_alive(pid):
                found.state = STALE
            elif "run" in holder and isinstance(start, int | float) and not _same_start(pid, start):
                found.state = STALE  # the pid was reused (older claims: /proc ticks, not psutil's)
            else:
                found.state = ALIVE
            return found
        seen_at, changed_after = _observe(path, stamp)
        found.unchanged_s = time.monotonic() - seen_at
        if found.unchanged_s >= self._timeout_of(holder):
            found.state = STALE
        elif changed_after is not None and (since is None or changed_after >= since):
            found.state = ALIVE  # renewed within the timeout (and seen to, since ``since``)
        return found

    def _timeout_of(self, holder):
        """This process's timeout, but never under three of the holder's renewal intervals."""
        every = holder.get("renew_every")
        if isinstance(every, int | float) and 0 < every <= MAX_RENEW_EVERY_S:
            return max(self.lease.timeout, RENEWALS_BEFORE_STALE * every)
        return self.lease.timeout

    def _lock(self):
        return locked(self.folder, ".lock")

    def acquire(self, key):
        """Claim ``key``: True if this process may compute it now."""
        path = self._path(key)
        for _ in range(3):  # a claim released between our create and read: try again
            if self._create(path):
                self.hold(key)
                return True
            stamp = self._read(path)
            if stamp is not None:
                break
        else:
            return False
        if self._mine(self._parse(stamp)):
            self.hold(key)  # already this run's (asked twice, or claimed on its behalf)
            return True
        if self._judge(key, path, stamp).state != STALE:
            return False
        with self._lock():
            if self._read(path) != stamp:  # renewed, or someone else took it over first
                return False
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            _forget(path)
            if not self._create(path):
                return False
        log.debug("%s: took over the claim of %s", key, self._parse(stamp) or "an unreadable file")
        self.hold(key)
        return True

    def hold(self, key):
        """Count ``key`` among this object's claims: renewed by its thread, released by it."""
        with self._held_lock:
            self.held.add(key)
            renewer = self._renewer
            if self.renews and (renewer is None or self._stop.is_set() or not renewer.is_alive()):
                self._stop = threading.Event()  # each thread its own: a stopped one just ends
                self._renewer = threading.Thread(
                    target=self._renew_loop,
                    args=(self._stop,),
                    name="c3d-claims-renewal",
                    daemon=True,
                )
                self._renewer.start()

    def _renew_loop(self, stop):
        renewed = 0
        while not stop.wait(self.lease.renew_every):
            renewed += 1
            try:
                self.renew(renewed)
            except OSError as exc:  # a filesystem hiccup: the next renewal may work
                log.warning("cannot renew the claims in %s (%s)", self.folder, exc)

    def renew(self, renewed):
        """Rewrite each claim this object holds with the count ``renewed`` (a new stamp).

        Under the folder's lock, and only a claim still its own: one taken over by a
        process that judged this one dead (a machine frozen past the timeout) is left to
        its new holder.
        """
        with self._held_lock:
            keys = list(self.held)
        if not keys:
            return
        content = self._content(renewed)
        with self._lock():
            for key in keys:
                path = self._path(key)
                stamp = self._read(path)
                if stamp is None or not self._mine(self._parse(stamp)):
                    continue
                tmp = temporary_name(path)
                with open(tmp, "wb") as f:
                    f.write(content)
                os.replace(tmp, path)

    def release(self, key):
        with self._held_lock:
            held = key in self.held
            self.held.discard(key)
            if not self.held:
                self._stop.set()  # nothing left to renew: the thread ends (hold restarts it)
        if held:
            with contextlib.suppress(OSError):
                os.remove(self._path(key))

    def release_all(self):
        for key in list(self.held):
            self.release(key)
        self._stop.set()
        renewer = self._renewer
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=5)

    def claimed_by_others(self, keys, since=None):
        """{key: Holder} of ``keys`` claimed by another process, each ALIVE, STALE or WATCHING.

        Reads each claim once and returns at once: WATCHING is a claim of another host
        whose stamp this process has not yet seen change (after ``since``, a monotonic
        time, if given), nor stay the same for the timeout.
        """
        found = {}
        for key in keys:
            path = self._path(key)
            stamp = self._read(path)
            if stamp is None:
                _forget(path)
                continue
            if self._mine(self._parse(stamp)):
                continue
            found[key] = self._judge(key, path, stamp, since)
        return found

    def settle(self, keys, on_wait=None, poll=WATCH_POLL_S):
        """{key: Holder} of ``keys`` claimed by others, once each is ALIVE or STALE.

        A claim of another host is watched until its stamp changes (ALIVE: its process
        renews it while this one watches) or has stayed the same for the timeout (STALE),
        counted from when this process first saw that stamp (during the run, perhaps).
        Keys whose claim goes away meanwhile (done, or given up, by its process) are left
        out. ``on_wait(n, seconds)`` is called once if ``n`` claims must be watched, for up
        to ``seconds``.
        """
        keys = list(keys)
        told = {}
        first = True
        since = time.monotonic()
        while True:
            pending = self.claimed_by_others(keys, since)
            for key, holder in pending.items():
                if holder.state != WATCHING:
                    told[key] = holder
            keys = [key for key, holder in pending.items() if holder.state == WATCHING]
            if not keys:
                return told
            if first and on_wait is not None:
                on_wait(len(keys), self.lease.timeout)
            first = False
            time.sleep(poll)


def _same_start(pid, start):
    now = process_start_time(pid)
    return now is None or abs(now - start) < 0.01


def finish_claimed(videos, writer, report, redo, claims_folder=None, stream=None):
    """After a run: settle the claims others hold on ``videos``; redo the stale ones here.

    ``videos``: the run's videos (``.key``); ``redo(videos)``: the engine, run again on the
    videos whose claims went stale (their claims are taken over as it claims them). Prints
    what it waits for, and one line per video still being done by another live process.
    Returns the number of videos whose claims are neither alive nor could be taken over
    (each also reported as a failure): the run's exit is non-zero when there are any.
    """
    stream = stream or getattr(report, "stream", None) or sys.stderr
    bar = getattr(report, "bar", None)

    def say(line):  # above the report's progress bar, when it has one
        if bar is not None:
            bar.write(line, file=stream)
        else:
            print(line, file=stream)

    claims = Claims(claims_folder or writer.claims_folder)
    claimed = claims.claimed_by_others(video.key for video in videos)  # a read per claim
    by_key = {
        video.key: video
        for video in videos
        if video.key in claimed and not writer.exists(video.key)
    }
    if not by_key:
        return 0

    def waiting(count, seconds):
        say(
            f"c3d extract: {count} videos are claimed by processes on other hosts; watching "
            f"their claims for up to {seconds:.0f} s (--claim-timeout) to tell live from dead"
        )

    held = claims.settle(by_key, on_wait=waiting)
    stale = [by_key[key] for key, holder in held.items() if holder.state == STALE]
    alive = {key: holder for key, holder in held.items() if holder.state == ALIVE}
    if stale:
        lines = ", ".join(f"{held[video.key].describe()}" for video in stale[:3])
        say(
            f"c3d extract: taking over {len(stale)} videos whose claims were not renewed "
            f"for the claim timeout ({lines}{', …' if len(stale) > 3 else ''})"
        )
        report.retaking(len(stale))
        redo(stale)
    lost = 0
    if stale:  # any of them taken again by someone else meanwhile: settle them too
        again = claims.settle(
            [video.key for video in stale if not writer.exists(video.key)], on_wait=waiting
        )
        for key, holder in again.items():
            if holder.state == ALIVE:
                alive[key] = holder
            else:
                lost += 1
                report.failure(
                    f"{_path_of(by_key[key])}: claimed by {holder.describe()}, whose claim "
                    "could not be taken over"
                )
    for key, holder in sorted(alive.items())[:20]:
        say(
            f"{_path_of(by_key[key])}: being extracted by another process ({holder.describe()}: "
            "its claim is alive)"
        )
    if len(alive) > 20:
        say(f"… and {len(alive) - 20} more videos being extracted by others")
    if alive:
        say(
            f"c3d extract: {len(alive)} videos are being extracted by other processes that "
            "renew their claims: they will finish them (run again afterwards to check)"
        )
    return lost


def _path_of(video):
    return getattr(video, "path", video)
