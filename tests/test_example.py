"""``make example`` (``python -m c3d.commands.example``) without weights says how to get them."""

import subprocess
import sys


def test_missing_weights_print_how_to_get_them(tmp_path, subprocess_env):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c3d.commands.example",
            "--weights",
            str(tmp_path / "none.weights.h5"),
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "none.weights.h5: no such weights file" in result.stderr
    assert "c3d fetch-weights" in result.stderr
    assert result.stdout == ""
