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
    # TensorFlow's start-up lines ("I0000 … oneDNN", "Could not find cuda drivers",
    # "E0000 … failed call to cuInit") are hidden from users …
    assert result.stderr == ""


def test_tensorflow_start_up_lines_show_when_asked_for(subprocess_env):
    """… shown with --verbose or C3D_VERBOSE=1 (this machine has no GPU: TF says so)."""
    for args, env in (
        (("--verbose", "summary"), subprocess_env),
        (("summary",), {**subprocess_env, "C3D_VERBOSE": "1"}),
    ):
        result = run_c3d(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert "cuda" in result.stderr.lower(), result.stderr


def test_tensorflow_start_up_lines_show_when_its_import_fails(subprocess_env, tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\nos.write(2, b'E0000 the reason TensorFlow could not start\\n')\n"
        "raise ImportError('broken TensorFlow')\n"
    )
    env = {**subprocess_env, "PYTHONPATH": f"{tmp_path}:{subprocess_env['PYTHONPATH']}"}
    result = run_c3d("summary", env=env)
    assert result.returncode != 0
    assert "E0000 the reason TensorFlow could not start" in result.stderr


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


def test_quick_exit_keeps_exit_code_handlers_and_buffered_output(subprocess_env, tmp_path):
    # run_and_exit skips Python's teardown once TensorFlow is loaded: the exit code,
    # atexit handlers and anything still buffered on stdout must survive that.
    code = (
        "import atexit, tensorflow\n"
        "from c3d.cli import run_and_exit\n"
        "atexit.register(print, 'handler ran')\n"
        "print('buffered', end=' ')\n"
        "run_and_exit(['summary', '--input-shape', '16x112'])\n"
        "print('not reached')\n"
    )
    out_path = tmp_path / "stdout.txt"
    with open(out_path, "w") as stdout:  # a file: fully buffered, unlike a terminal
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=subprocess_env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    assert result.returncode == 1, result.stderr
    assert "--input-shape must be T,H,W" in result.stderr
    assert out_path.read_text() == "buffered handler ran\n"


def test_options_may_sit_between_input_files():
    from c3d.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["classify", "a.avi", "--top", "3", "b.avi"])
    assert (args.inputs, args.top) == (["a.avi", "b.avi"], 3)
    args = parser.parse_args(["extract", "a.avi", "-o", "out", "b.avi", "--stride", "4"])
    assert (args.inputs, args.output, args.stride) == (["a.avi", "b.avi"], "out", 4)
    args = parser.parse_args(["train", "--epochs", "2", "-o", "run"])
    assert (args.data, args.epochs) == (None, 2)
