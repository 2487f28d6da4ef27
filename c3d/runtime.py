"""Process-wide runtime settings that make the default path fast.

TensorFlow reads these variables once, when it is first imported, so they are set
from ``c3d/__init__.py`` before anything imports Keras or TensorFlow. Every entry
point (Python API, CLI, Docker image) therefore gets the same tuned configuration.
Each variable is only a default: a value already in the environment wins, which is
how users override it (see README, "Speed").
"""

import os
import sys


def available_cpus():
    """CPUs this process may run on (respects taskset / cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


# CPU features that run bfloat16 matrix work natively; without them oneDNN emulates it,
# and C3D in bf16 ran at 0.07 clips/s on an AVX2 CPU (issue 6), ~35x slower than fp32.
FAST_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags():
    """The CPU's feature flags, from /proc/cpuinfo (an empty set where there is none)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_fast_bf16():
    return any(flag in cpu_flags() for flag in FAST_BF16_CPU_FLAGS)


def configure_environment():
    """Set TensorFlow's threading and oneDNN defaults; must run before TF is imported."""
    # FFmpeg prints a line per damaged packet ("ac-tex damaged at 9 0"), which buries the
    # progress bar on a corrupt file; the one-line failure reasons say what went wrong.
    # OpenCV reads this once, when it first opens a file.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "tensorflow" in sys.modules:
        # Too late to change anything TF reads at import time; leave the user's TF alone.
        return
    cpus = str(available_cpus())
    # TF enables oneDNN by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on
    # AVX2-only CPUs the Eigen path is ~1.5x slower for C3D's Conv3D (measured, see bench/).
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    # Size the thread pools from the CPUs actually granted, not the host's core count.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", cpus)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    # TF's C++ INFO lines drown the progress bars; warnings and errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
