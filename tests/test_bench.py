"""The benchmark's model-only tool runs on the backends and precisions the GPU runs need."""

import json
import subprocess
import sys


def run_model_only(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "bench.model_only", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_model_only_on_jax_in_bf16_reports_each_batch_size(subprocess_env):
    env = dict(subprocess_env, JAX_PLATFORMS="cpu")
    args = ("--backend", "jax", "--precision", "bf16", "--batch-sizes", "1,2", "--repeats", "1")
    result = run_model_only(*args, "--input-shape", "16,32,32", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert (report["backend"], report["compute_dtype"]) == ("jax", "bfloat16")
    assert report["device"].startswith("cpu")
    assert sorted(report["clips_per_s"]) == ["1", "2"]
    assert all(speed > 0 for speed in report["clips_per_s"].values())


def test_model_only_refuses_bad_batch_sizes(subprocess_env):
    result = run_model_only("--batch-sizes", "8,x", env=subprocess_env)
    assert result.returncode == 2
    assert "comma-separated integers" in result.stderr
    assert result.stdout == ""
