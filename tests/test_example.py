"""``make example`` (``python -m c3d.commands.example``) when it cannot fetch its weights.

The first run that works (an empty cache, the weights fetched from a mirror) is in
``test_first_run.py``.
"""

import subprocess
import sys

from c3d.model.presets import SPORTS1M


def _example(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "c3d.commands.example", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_offline_one_line_says_where_to_put_the_file(tmp_path, subprocess_env):
    cache = tmp_path / "cache"
    result = _example({**subprocess_env, "C3D_HOME": str(cache), "C3D_OFFLINE": "1"})
    assert result.returncode == 1 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [
        f"c3d example: error: {cache / SPORTS1M.file_name}: no such weights file, and "
        f"C3D_OFFLINE=1 keeps c3d from downloading it: put {SPORTS1M.source_file} (published "
        f"at {SPORTS1M.urls[0]}) in {cache}, where it is converted on first use, or get them "
        "with `c3d fetch-weights` where there is a network"
    ]
    assert "tensorflow" not in result.stderr.lower()  # told before TensorFlow loads


def test_a_missing_file_is_one_line(tmp_path, subprocess_env):
    result = _example(subprocess_env, "--weights", tmp_path / "none.weights.h5")
    assert result.returncode == 1 and result.stdout == ""
    assert f"{tmp_path / 'none.weights.h5'}: no such weights file (a weights name (" in (
        result.stderr
    )
