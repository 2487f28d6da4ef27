"""Process-wide runtime facts and settings: CPUs, accelerators, and fast defaults.

TensorFlow reads these variables once, when it is first imported, so they are set
from ``c3d/__init__.py`` before anything imports Keras or TensorFlow. Every entry
point (Python API, CLI, Docker image) therefore gets the same tuned configuration.
Each variable is only a default: a value already in the environment wins, which is
how users override it (see README, "Speed").
"""

import contextlib
import functools
import importlib.abc
import importlib.util
import os
import sys
import tempfile


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


@functools.lru_cache(maxsize=1)
def accelerator_names():
    """Names of the GPUs/TPUs the active Keras backend computes on ([] on a CPU).

    The one accelerator probe: it asks the backend Keras runs on, so a JAX or torch
    process never loads TensorFlow to find out.
    """
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [
                tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
                for gpu in tf.config.list_physical_devices("GPU")
            ]
        if backend == "jax":
            import jax

            return [device.device_kind for device in jax.devices() if device.platform != "cpu"]
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken GPU set-up: the CPU defaults are the safe ones
        return []
    return []


def accelerator_present():
    return bool(accelerator_names())


def has_fast_bf16():
    """bfloat16 runs natively: on an accelerator, or a CPU with AVX-512 BF16 / AMX."""
    return accelerator_present() or cpu_has_fast_bf16()


CPU_BATCH_SIZE = 8  # on CPU, bigger batches are no faster
ACCELERATOR_BATCH_SIZE = 32


def default_batch_size(accelerator=None):
    """32 clips on an accelerator; 8 on CPU. ``accelerator`` None: whether this process has one."""
    if accelerator is None:
        accelerator = accelerator_present()
    return ACCELERATOR_BATCH_SIZE if accelerator else CPU_BATCH_SIZE


def default_decoders():
    """One decoder feeds a CPU model (~3 clips/s); a GPU needs several (~1000 clips/s)."""
    if not accelerator_present():
        return 1
    return max(2, min(8, available_cpus() // 2))


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


# --- TensorFlow's start-up noise --------------------------------------------------------
# On a CPU machine TensorFlow prints, while it imports and first looks for devices, lines
# users read as errors ("I0000 … oneDNN custom operations are on", "Could not find cuda
# drivers", "E0000 … failed call to cuInit: … UNKNOWN ERROR (303)"). They come from C++
# before absl logging is set up, so TF_CPP_MIN_LOG_LEVEL does not silence them: file
# descriptor 2 is redirected for that window only, and what was printed is shown if the
# import fails.


@contextlib.contextmanager
def captured_stderr():
    """File descriptor 2 (C++ and Python alike) into a temporary file; yields that file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # resources, code, …: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with captured_stderr() as captured:
            try:
                self._loader.exec_module(module)
                module.config.list_physical_devices("GPU")  # the cuInit line comes here
            except BaseException:
                captured.seek(0)
                text = captured.read().decode("utf-8", "replace")
                failed = True
            else:
                failed = False
        if failed:
            sys.stderr.write(text)
            raise


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finders find it
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_startup():
    """Hide what TensorFlow prints while it imports (if it is imported at all, later)."""
    if "tensorflow" in sys.modules or os.environ.get("C3D_VERBOSE", "") not in ("", "0"):
        return
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
