"""Run ``c3d ARGS…`` in this process and report its wall time and peak RSS as JSON.

    python -m bench.peak_rss OUT.json convert model.caffemodel out.weights.h5

Used by the benchmark to measure a command in a fresh process (``ru_maxrss`` of the
process itself, so nothing else the benchmark holds is counted).
"""

import json
import resource
import sys
import time


def main():
    report_path, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    from c3d.cli import main as c3d_main

    status = c3d_main(argv)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with open(report_path, "w") as report:
        json.dump({"status": status, "seconds": seconds, "peak_rss_mb": peak_kib / 1024}, report)
    return status


if __name__ == "__main__":
    sys.exit(main())
