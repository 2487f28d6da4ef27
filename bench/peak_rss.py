"""Run ``c3d ARGS…`` in this process and report its wall time and peak RSS as JSON.

    python -m bench.peak_rss OUT.json convert model.caffemodel out.weights.h5

Used by the benchmark to measure a command in a fresh process. The peak is the
process's ``VmHWM`` (high-water mark of its own address space), not ``ru_maxrss``: Linux
carries ``ru_maxrss`` over from the parent across fork + exec, so a child of the
benchmark would report the benchmark's own size.
"""

import json
import sys
import time


def peak_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def main():
    report_path, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    from c3d.cli import main as c3d_main

    status = c3d_main(argv)
    seconds = time.perf_counter() - start
    with open(report_path, "w") as report:
        json.dump({"status": status, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}, report)
    return status


if __name__ == "__main__":
    sys.exit(main())
