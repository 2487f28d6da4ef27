"""The bench tools: model-only on the backends and precisions GPU runs need, decoding, bench.gpu."""

import json
import pathlib
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


def test_model_only_refuses_bad_batch_sizes(subprocess_env):
    result = run_model_only("--batch-sizes", "8,x", env=subprocess_env)
    assert result.returncode == 2
    assert "comma-separated integers" in result.stderr
    assert result.stdout == ""


def test_decoding_figures_with_1_2_and_4_decoders(tmp_path, monkeypatch):
    from bench.__main__ import DECODERS, decoding
    from c3d.video import segments

    monkeypatch.setattr(segments, "MIN_PART_FRAMES", 48)  # the long video: 4 parts
    figures = decoding(tmp_path, long_frames=200, short_frames=30, size=(64, 48), videos=3)
    assert DECODERS == (1, 2, 4)
    for name in ("long", "many"):
        for decoders in DECODERS:
            frames = figures[f"decode_frames_per_s_{name}_decoders{decoders}"]
            clips = figures[f"decode_clips_per_s_{name}_decoders{decoders}"]
            # stride 8: one clip per 8 frames, less the last window's
            assert frames > 0 and 0 < clips <= frames / 8
    assert figures["decode_raw_frames_per_s_1thread"] > 0


def test_crops_figures_put_ten_crops_next_to_one(tmp_path):
    from synthetic_videos import write_video

    from bench.__main__ import crops_throughput
    from c3d.model.builder import C3D

    model = C3D(weights=None, include_top=False, input_shape=(16, 32, 32, 3))
    video = write_video(tmp_path / "v.avi", 16, size=(64, 48), fps=25.0)
    figures = crops_throughput(model, str(video), runs=1)
    assert sorted(figures) == [
        "crops10_clips_per_s", "crops10_rows_per_s", "crops1_clips_per_s", "crops1_rows_per_s",
    ]  # fmt: skip
    assert figures["crops10_rows_per_s"] == 10 * figures["crops10_clips_per_s"] > 0


def test_decode_floor_figures_per_core_sd_and_720p(tmp_path, monkeypatch):
    import bench.__main__ as bench_main

    tiny = {"sd": ((64, 48), 40, 40), "720p": ((96, 64), 40, 40)}
    monkeypatch.setattr(bench_main, "FLOOR_VIDEOS", tiny)
    figures = bench_main.decoding_floor(tmp_path, quick=True)
    for name in tiny:
        floor = figures[f"decode_floor_frames_per_s_{name}_1cpu"]
        ours = figures[f"decode_frames_per_s_{name}_1cpu_decoders1"]
        assert figures[f"decode_share_of_floor_{name}_1cpu"] == ours / floor > 0
        assert figures[f"decode_raw_frames_per_s_{name}_1cpu"] > 0
        assert figures[f"decode_frames_per_s_{name}_decoders2"] > 0
    assert bench_main.TARGETS["decode_share_of_floor_sd_1cpu"] == ("≥", 0.9)


def test_gpu_run_script_runs_every_section_without_tensorflow(
    tmp_path, subprocess_env, sport1m_weights
):
    """``bench/gpu_run.sh`` (``python -m bench.gpu``, section by section) at tiny sizes on
    the CPU with JAX: the one command a GPU machine's call runs."""
    from synthetic_videos import write_video

    example = write_video(tmp_path / "example.avi", 16, size=(64, 48), fps=25.0)
    env = dict(subprocess_env, JAX_PLATFORMS="cpu", PYTHON=sys.executable, C3D_BENCH_TINY="1")
    env.pop("KERAS_BACKEND", None)
    env["OUT"] = str(tmp_path / "out")  # where the script puts and merges its results
    args = ["--backends", "jax", "--precisions", "fp32,bf16", "--batch-sizes", "1"]
    args += ["--weights", sport1m_weights]  # the suite's random weights: not written again
    args += ["--repeats", "1", "--input-shape", "16,32,32", "--example", example]
    args += ["--long-seconds", "0.6", "--long-size", "64x48", "--stride", "8", "--e2e-batch", "1"]
    args += ["--train-batch", "2", "--train-steps", "1", "--cache", tmp_path / "cache"]
    result = subprocess.run(
        ["bash", "bench/gpu_run.sh", *map(str, args)],
        env=env,
        cwd=pathlib.Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=900,
    )
    # exit 1: the bf16 target (6,000 clips/s) is missed on a CPU
    assert result.returncode == 1, result.stderr[-3000:]
    assert "target ≥ 6000: MISSED" in result.stdout
    assert result.stderr.count("gpu_run: ") >= 5  # 4 sections, then where the figures are
    path = max((tmp_path / "out").glob("gpu-*.json"))  # the last: every section's figures
    report = json.loads(path.read_text())
    machine = report["machine"]
    assert machine["tensorflow_loaded"] is False
    assert machine["gpus"] == ["cpu"] and machine["weights"] == "given"
    assert machine["compute_dtype_jax_fp32"] == "float32"
    assert machine["compute_dtype_jax_bf16"] == "bfloat16"
    for precision in ("fp32", "bf16"):
        assert report[f"model_clips_per_s_jax_{precision}_batch1"] > 0
        for video in ("example", "long"):
            assert report[f"e2e_clips_per_s_jax_{precision}_{video}"] > 0
        assert report[f"e2e_ratio_jax_{precision}_example"] > 0  # batch 1 was measured
    for video in ("example", "long"):
        error = report[f"bf16_fc6_max_relative_error_jax_{video}"]
        assert 0 < error < 0.05  # bf16 is not fp32, and not far from it
    assert report["decode_raw_frames_per_s_1thread"] > 0
    assert report["decode_frames_per_s_decoders1"] > 0
    assert report["train_clips_per_s_jax_batch2"] > 0
    assert machine["train_policy_jax"] == "float32"  # --mixed-precision is for GPUs
