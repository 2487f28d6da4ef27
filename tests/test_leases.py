"""Claims are leases (issue 22): renewed while their process works, taken over once their
renewal stamp stops changing for the claim timeout (whichever host made them), at once when
this host's process is gone; and claims and locks work without ``fcntl`` or ``/proc``."""

import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest
from video_helpers import make_video

from c3d.cli import main
from c3d.extraction import claims
from c3d.extraction.claims import ALIVE, STALE, Claims, Lease
from c3d.extraction.h5store import group_keys, read_h5_video
from c3d.extraction.writers import read_npz

SHORT = Lease(timeout=0.6)  # renews every 0.15 s


def write_claim(folder, key, **holder):
    path = folder / (key + ".claim")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(holder))
    return path


def exited_pid():
    """The pid of a process of this host that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_claim_of_another_host_is_taken_over_once_its_stamp_is_unchanged_for_the_timeout(
    tmp_path,
):
    write_claim(tmp_path, "a.avi", host="elsewhere", pid=os.getpid(), start=0.0, renewed=0)
    mine = Claims(tmp_path, SHORT)
    started = time.monotonic()
    assert not mine.acquire("a.avi")  # not yet: its process may be renewing it
    assert mine.claimed_by_others(["a.avi"])["a.avi"].state == claims.WATCHING
    while not mine.acquire("a.avi"):
        assert time.monotonic() - started < 5, "never taken over"
        time.sleep(0.05)
    assert time.monotonic() - started >= SHORT.timeout  # not before the timeout
    holder = json.loads((tmp_path / "a.avi.claim").read_text())
    assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
    mine.release_all()
    assert not (tmp_path / "a.avi.claim").exists()


def test_a_claim_of_this_host_whose_process_is_gone_is_taken_over_at_once(tmp_path):
    write_claim(tmp_path, "gone.avi", host=socket.gethostname(), pid=exited_pid(), start=1.0)
    write_claim(tmp_path, "here.avi", host=socket.gethostname(), pid=os.getpid())
    # this pid, but a process that started in 1970: the pid was reused since
    reused = {"host": socket.gethostname(), "pid": os.getpid(), "start": 1.0, "run": "old"}
    write_claim(tmp_path, "reused.avi", **reused)
    mine = Claims(tmp_path, Lease(timeout=3600))
    assert mine.acquire("gone.avi")
    assert mine.acquire("reused.avi")
    assert not mine.acquire("here.avi")  # a live process (this one's other claims object)
    assert mine.claimed_by_others(["here.avi"])["here.avi"].state == ALIVE
    mine.release_all()


def test_a_live_claim_that_is_renewed_is_never_taken_over_and_a_silent_one_is(tmp_path):
    holder = Claims(tmp_path, SHORT)
    holder.host = holder.me["host"] = "other-host"  # judged by its stamp alone
    assert holder.acquire("v.avi")
    observer = Claims(tmp_path, SHORT)
    deadline = time.monotonic() + 3 * SHORT.timeout
    while time.monotonic() < deadline:  # three timeouts: renewed all along
        assert not observer.acquire("v.avi")
        time.sleep(0.05)
    settled = observer.settle(["v.avi"])
    assert settled["v.avi"].state == ALIVE
    assert json.loads((tmp_path / "v.avi.claim").read_text())["renewed"] >= 8

    holder._stop.set()  # the negative control: the same claim, no longer renewed
    holder._renewer.join()
    started = time.monotonic()
    assert observer.settle(["v.avi"])["v.avi"].state == STALE
    assert time.monotonic() - started >= SHORT.timeout * 0.9
    assert observer.acquire("v.avi")
    observer.release_all()


def test_a_renewal_leaves_a_claim_that_was_taken_over_to_its_new_holder(tmp_path):
    holder = Claims(tmp_path, Lease(timeout=3600))
    assert holder.acquire("v.avi")
    taken = write_claim(tmp_path, "v.avi", host="new-holder", pid=1, run="theirs")
    holder.renew(1)
    assert json.loads(taken.read_text())["host"] == "new-holder"
    holder._stop.set()


def test_a_claim_made_on_a_runs_behalf_is_that_runs_and_renewed_by_it(tmp_path):
    run = Claims(tmp_path, SHORT)
    task = Claims(tmp_path, SHORT, owner=run.me, renew=False)  # a Ray task, for its driver
    assert task.acquire("v.avi")
    assert task._renewer is None  # the run renews, not the task
    assert run.acquire("v.avi")  # its own: held, and renewed from now on
    assert not Claims(tmp_path, SHORT).acquire("v.avi")  # another run of this process: not
    before = json.loads((tmp_path / "v.avi.claim").read_text())["renewed"]
    time.sleep(3 * SHORT.renew_every)
    assert json.loads((tmp_path / "v.avi.claim").read_text())["renewed"] > before
    run.release_all()
    assert not (tmp_path / "v.avi.claim").exists()


def test_a_short_timeout_never_judges_a_claim_that_renews_less_often(tmp_path):
    # A holder renewing every 30 s, watched by a process whose timeout is 0.6 s: its claim
    # is stale only after three of the holder's renewals (90 s), not after 0.6 s.
    write_claim(tmp_path, "v.avi", host="elsewhere", pid=1, renew_every=30.0)
    observer = Claims(tmp_path, SHORT)
    assert not observer.acquire("v.avi")
    time.sleep(SHORT.timeout + 0.1)
    assert not observer.acquire("v.avi")
    assert observer.claimed_by_others(["v.avi"])["v.avi"].state == claims.WATCHING


class FakeReport:
    def __init__(self):
        self.failures, self.retaken = [], 0

    def retaking(self, count):
        self.retaken += count

    def failure(self, reason):
        self.failures.append(reason)


@pytest.mark.parametrize("taken_again", [True, False])
def test_a_stale_claim_that_cannot_be_taken_over_makes_the_run_fail(
    tmp_path, monkeypatch, taken_again
):
    monkeypatch.setattr(claims.LEASE, "timeout", 0.3)
    write_claim(tmp_path, "v.avi", host="dead-host", pid=1)
    done = set()

    class Writer:
        claims_folder = str(tmp_path)

        @staticmethod
        def exists(key):
            return key in done

    def redo(videos):
        assert [video.key for video in videos] == ["v.avi"]
        if taken_again:  # another process grabbed it first, then died too
            write_claim(tmp_path, "v.avi", host="other-dead-host", pid=2)
        else:  # the negative control: this run did it
            done.add("v.avi")

    video = SimpleNamespace(key="v.avi", path="videos/v.avi")
    report = FakeReport()
    lost = claims.finish_claimed([video], Writer(), report, redo, stream=io.StringIO())
    assert report.retaken == 1
    if taken_again:
        assert lost == 1
        assert report.failures == [
            "videos/v.avi: claimed by host other-dead-host, pid 2, whose claim could not be "
            "taken over"
        ]
    else:
        assert (lost, report.failures) == (0, [])


@pytest.fixture(scope="module")
def reference(tmp_path_factory, sport1m_weights):
    """Three one-clip videos, and their npz outputs from one uninterrupted run."""
    root = tmp_path_factory.mktemp("leases")
    for index in range(3):
        make_video(root / "videos" / f"v{index}.avi", 16, seed=index)
    out = root / "reference"
    assert (
        main(["extract", str(root / "videos"), "-o", str(out), "--weights", sport1m_weights]) == 0
    )
    return root / "videos", {p.name: read_npz(p) for p in out.glob("*.npz")}


def assert_same_arrays(got, want):
    assert sorted(got) == sorted(want)
    for name in want:
        assert np.array_equal(got[name], want[name]), name


def test_a_run_killed_on_another_host_is_finished_exactly_once_after_the_timeout(
    tmp_path, reference, sport1m_weights, subprocess_env, capsys
):
    videos, want = reference
    out = tmp_path / "out"
    claims_folder = out / ".c3d" / "claims"
    # v2: claimed by a live process of another host, renewing its claim all along
    busy = Claims(claims_folder, Lease(timeout=2))
    busy.host = busy.me["host"] = "busy-host"
    assert busy.acquire("v2.avi")
    args = [videos, "-o", out, "--weights", sport1m_weights, "--claim-timeout", "2"]
    first = subprocess.Popen(
        [sys.executable, "-m", "c3d", "extract", *map(str, args)],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not [p for p in claims_folder.rglob("*.claim") if p.name != "v2.avi.claim"]:
            assert first.poll() is None and time.monotonic() < deadline, "no claim appeared"
            time.sleep(0.05)
        first.kill()  # kill -9: its claims stay
        first.wait()
        left = sorted(p for p in claims_folder.rglob("*.claim") if p.name != "v2.avi.claim")
        for path in left:  # as if it ran on a machine that died
            holder = json.loads(path.read_text())
            assert holder["pid"] == first.pid
            path.write_text(json.dumps({**holder, "host": "dead-host"}))
        finished = {p.name for p in out.glob("*.npz")}

        assert main(["extract", *map(str, args)]) == 0
    finally:
        busy.release_all()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"taking over {len(left)} videos whose claims were not renewed" in err
    assert "host dead-host" in err
    assert f"{videos / 'v2.avi'}: being extracted by another process (host busy-host" in err
    assert "1 videos are being extracted by other processes that renew their claims" in err
    done = int(err.split("c3d extract: done ")[1].split(",")[0])
    assert done + len(finished) == 2  # v0 and v1 computed once each, by one of the two runs
    assert sorted(p.name for p in out.glob("*.npz")) == ["v0.avi.npz", "v1.avi.npz"]
    for name in ("v0.avi.npz", "v1.avi.npz"):
        assert_same_arrays(read_npz(out / name), want[name])
    assert not list(claims_folder.rglob("*.claim"))


# The extraction of a laptop: `fcntl` cannot be imported (Windows), and `/proc` cannot be
# read (macOS, Windows) except by psutil, whose own code for those systems reads no /proc.
NO_FCNTL_NO_PROC = textwrap.dedent(
    """
    import builtins, os, sys
    sys.modules["fcntl"] = None
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and os.fsdecode(file).startswith("/proc"):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if not caller.startswith("psutil"):
                print(f"PROC-READ-REFUSED {caller} {os.fsdecode(file)}", file=sys.stderr)
                raise PermissionError(13, "no /proc on this system", os.fsdecode(file))
        return real_open(file, *args, **kwargs)

    builtins.open = guarded_open
    import filelock
    print("LOCK", filelock.FileLock.__name__, file=sys.stderr)
    from c3d.cli import main
    code = main(sys.argv[1:])
    print("FCNTL", "fcntl" in sys.modules and sys.modules["fcntl"] is not None, file=sys.stderr)
    sys.exit(code)
    """
)


def test_an_extraction_without_fcntl_or_proc_gives_the_same_outputs(
    tmp_path, reference, sport1m_weights, subprocess_env
):
    videos, want = reference
    output = tmp_path / "f.h5"
    command = [sys.executable, "-c", NO_FCNTL_NO_PROC, "extract", str(videos), "-o", str(output)]
    done = subprocess.run(
        [*command, "--weights", sport1m_weights, "--format", "h5", "--claim-timeout", "1"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"one self-contained file to share: c3d pack {output} -o FILE.h5" in done.stderr
    assert "LOCK SoftFileLock" in done.stderr  # filelock without fcntl: the guard worked
    assert "FCNTL False" in done.stderr
    refused = [line for line in done.stderr.splitlines() if "PROC-READ-REFUSED" in line]
    assert not [line for line in refused if "c3d.atomic" in line or "c3d.extraction" in line]
    assert group_keys(output) == ["v0.avi", "v1.avi", "v2.avi"]
    for key in group_keys(output):
        assert_same_arrays(read_h5_video(output, key), want[key + ".npz"])
