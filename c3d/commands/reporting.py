"""What a long run tells its user on stderr: a progress bar, failures, a summary line."""

import os
import sys
import time

from tqdm import tqdm

from c3d.atomic import atomic_output


class RunReport:
    """A tqdm bar over videos (with clips/s), one line per failure, and the counts.

    Failures are printed as ``PATH: reason`` lines above the bar and, with
    ``failures_file``, written there (one per line) when the report is closed — also
    after Ctrl-C, and as an empty file when nothing failed, so an old list never stays.
    """

    def __init__(self, total, *, failures_file=None, skipped=0, desc="videos", stream=None):
        self.stream = stream or sys.stderr
        self.failures_file = failures_file
        self.done = 0
        self.skipped = skipped
        self.elsewhere = 0  # done, or being done, by another process sharing the output
        self.failures = []
        self.clips = 0
        self.started = time.monotonic()
        self._last_postfix = 0.0
        self.bar = tqdm(
            total=total, unit="video", desc=desc, file=self.stream, dynamic_ncols=True, leave=True
        )

    @property
    def failed(self):
        return len(self.failures)

    def clips_done(self, count):
        self.clips += count
        now = time.monotonic()
        if now - self._last_postfix >= 0.5:
            self._last_postfix = now
            self.bar.set_postfix_str(f"{self.clips_per_second():.1f} clips/s")

    def clips_per_second(self):
        elapsed = time.monotonic() - self.started
        return self.clips / elapsed if elapsed > 0 else 0.0

    def video_done(self):
        self.done += 1
        self.bar.update(1)

    def done_elsewhere(self):
        self.elsewhere += 1
        self.bar.update(1)

    def retaking(self, count):
        """``count`` videos counted as done elsewhere are to be done here after all (their
        claims went stale: ``c3d.extraction.claims.finish_claimed``)."""
        self.elsewhere -= count
        self.bar.total += count
        self.bar.refresh()

    def failure(self, reason):
        self.failures.append(reason)
        self.bar.write(reason, file=self.stream)
        self.bar.update(1)

    def summary(self):
        elapsed = time.monotonic() - self.started
        elsewhere = f", by other processes {self.elsewhere}" if self.elsewhere else ""
        return (
            f"done {self.done}, skipped {self.skipped}{elsewhere}, failed {self.failed} "
            f"({self.clips:.0f} clips in {elapsed:.1f} s, {self.clips_per_second():.1f} clips/s)"
        )

    def close(self):
        self.bar.close()
        if self.failures_file:
            with atomic_output(os.fspath(self.failures_file)) as tmp_path:
                with open(tmp_path, "w", encoding="utf-8") as f:
                    f.writelines(f"{reason}\n" for reason in self.failures)
