"""Run ``c3d ARGS…`` in this process and report its memory use as JSON.

    python -m bench.peak_rss OUT.json convert model.caffemodel out.weights.h5

Used by the benchmark to measure a command in a fresh process, as a user runs it (the
``c3d`` program's own exit included). Reported:

* ``peak_rss_mb``: the process's ``VmHWM`` (high-water mark of its own address space),
  not ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the parent across
  fork + exec, so a child of the benchmark would report the benchmark's own size;
* ``first_half_peak_mb`` / ``second_half_peak_mb``: the highest ``VmRSS`` sampled in
  each half of the run. Memory that grows with the input shows as a second half
  above the first; a bounded pipeline fills its queues early and then stays flat.
"""

import atexit
import json
import sys
import threading
import time

_SAMPLE_S = 0.25


def status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


class RssSampler(threading.Thread):
    """VmRSS every 0.25 s, as (seconds since start, MB) pairs."""

    def __init__(self):
        super().__init__(name="rss-sampler", daemon=True)
        self.start_time = time.perf_counter()
        self.samples = []

    def run(self):
        while True:
            elapsed = time.perf_counter() - self.start_time
            self.samples.append((elapsed, status_kb("VmRSS") / 1024))
            time.sleep(_SAMPLE_S)

    def half_peaks(self):
        samples = list(self.samples)
        middle = samples[-1][0] / 2 if samples else 0.0
        first = [mb for t, mb in samples if t <= middle]
        second = [mb for t, mb in samples if t > middle]
        return max(first, default=0.0), max(second, default=0.0)


def main():
    report_path, argv = sys.argv[1], sys.argv[2:]
    sampler = RssSampler()
    sampler.start()

    def report():  # at exit: run_and_exit runs exit handlers before it ends the process
        first, second = sampler.half_peaks()
        result = {
            "peak_rss_mb": status_kb("VmHWM") / 1024,
            "first_half_peak_mb": first,
            "second_half_peak_mb": second,
        }
        with open(report_path, "w") as f:
            json.dump(result, f)

    atexit.register(report)
    from c3d.cli import run_and_exit

    return run_and_exit(argv)


if __name__ == "__main__":
    sys.exit(main())
