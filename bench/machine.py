"""What the figures were measured on."""

import os
import platform


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    from c3d.runtime import cpu_flags as all_flags

    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
    flags = all_flags()
    return [flag for flag in wanted if flag in flags]


def _version(package):
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe():
    import keras

    from c3d.runtime import accelerator_names, available_cpus

    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpus_available": available_cpus(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "tensorflow": _version("tensorflow"),
        "gpus": accelerator_names(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS"),
        "TF_NUM_INTEROP_THREADS": os.environ.get("TF_NUM_INTEROP_THREADS"),
        "python": platform.python_version(),
    }
