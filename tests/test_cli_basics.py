"""The ``c3d`` console command: help, version, summary and its one-line errors."""

import subprocess
import sys


def run_c3d(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "c3d", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_help_lists_every_subcommand(subprocess_env):
    result = run_c3d("--help", env=subprocess_env)
    assert result.returncode == 0
    for command in ("extract", "classify", "convert", "convert-mean", "train", "evaluate"):
        assert command in result.stdout


def test_help_does_not_load_tensorflow(subprocess_env):
    code = (
        "import sys\nfrom c3d.cli import build_parser\nbuild_parser()\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_summary_prints_the_layer_table(subprocess_env):
    result = run_c3d("summary", env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "zeropad5 (ZeroPadding3D)" in result.stdout
    assert "79,991,015" in result.stdout


def test_bad_option_value_is_one_line_on_stderr(subprocess_env):
    result = run_c3d("summary", "--input-shape", "16x112", env=subprocess_env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [
        "c3d summary: error: --input-shape must be T,H,W (e.g. 16,112,112), got '16x112'"
    ]
    assert result.stdout == ""


def test_runtime_defaults_are_set_before_tensorflow_and_can_be_overridden(subprocess_env):
    code = (
        "import os, c3d, tensorflow as tf\n"
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], os.environ['TF_NUM_INTRAOP_THREADS'],"
        " tf.config.threading.get_intra_op_parallelism_threads())"
    )
    default = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True
    )
    assert default.returncode == 0, default.stderr
    import os

    cpus = len(os.sched_getaffinity(0))
    onednn, intra, _ = default.stdout.split()
    assert (onednn, intra) == ("1", str(cpus))
    env = dict(subprocess_env, TF_ENABLE_ONEDNN_OPTS="0", TF_NUM_INTRAOP_THREADS="1")
    overridden = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert overridden.stdout.split()[:2] == ["0", "1"]
