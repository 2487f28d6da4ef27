"""Would our own driver and core limit a cluster? ``--engine ray`` with a stand-in model.

A 2-core machine cannot show a cluster's throughput, but it can show whether the Ray
engine's driver and the core become the limit before the accelerators do. The stand-in
(``c3d.extraction.engines.model.StandInModel``) costs a fixed wall time per batch and no
CPU — a sleep of 0.2 s per batch of 32, i.e. 160 clips/s a replica, what an accelerator
looks like to the CPU side — and tiny videos (32×24, 16×16 crops) keep decoding cheap. The
same ``RayEngine`` as ``c3d extract --engine ray`` runs it, on a local Ray with 16 logical
CPUs, writing npz files.

- Scaling: clips/s with 1, 2, 4 and 8 replicas, over the steady part of each run (from
  the first clip's features to the last), target ≥ 0.8 × replicas × one replica's.
- The driver's own cost per video: CPU seconds of the driver process (``c3d extract``'s
  process: Ray Data's executor threads and ours) per video, over ≥ 2,000 one-clip videos,
  and its memory per video: peak RSS of a 2,000-video run minus a 500-video run's, each in
  a fresh process, over the 1,500 videos between them.

    python -m bench.simulated_accelerator [--quick]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

SECONDS_PER_BATCH = 0.2
BATCH = 32
REPLICAS = (1, 2, 4, 8)
CLIP = (16, 16, 16)  # the stand-in's clips: frames, height, width


def _videos(folder, count, frames):
    from synthetic_videos import write_video

    os.makedirs(folder, exist_ok=True)
    for index in range(count):
        write_video(os.path.join(folder, f"v{index:05d}.avi"), frames, size=(32, 24), seed=index)
    return folder


class _Timeline:
    """A RunReport stand-in that keeps when clips came (and counts the rest)."""

    def __init__(self):
        self.clips, self.first, self.last = 0.0, None, None
        self.done = self.failed = self.elsewhere = 0

    def clips_done(self, count):
        now = time.perf_counter()
        if self.first is None:
            self.first, self.first_count = now, count
        self.clips += count
        self.last = now

    def video_done(self):
        self.done += 1

    def done_elsewhere(self):
        self.elsewhere += 1

    def failure(self, reason):
        self.failed += 1

    def steady_clips_per_s(self):
        span = (self.last or 0) - (self.first or 0)
        return (self.clips - self.first_count) / span if span > 0 else 0.0


def one_run(folder, out, replicas):
    """{figures} of one RayEngine run over ``folder`` with ``replicas`` stand-in replicas."""
    import ray

    from c3d.extraction.engines import ExtractionJob
    from c3d.extraction.engines.model import StandInModel
    from c3d.extraction.engines.ray import RayEngine
    from c3d.extraction.writers import NpzWriter
    from c3d.video.clip_format import ClipFormat
    from c3d.video.inputs import expand_inputs

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ray.init(
        address="local",  # a Ray of its own, whatever else runs on this machine
        num_cpus=16,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": repo}},
    )
    try:
        job = ExtractionJob(
            model=StandInModel(SECONDS_PER_BATCH, 8),
            clip_format=ClipFormat(*CLIP),
            stride=8,
            batch_size=BATCH,
        )
        videos, _ = expand_inputs([folder])
        writer = NpzWriter(out)
        writer.prepare()
        report = _Timeline()
        cpu, wall = time.process_time(), time.perf_counter()
        RayEngine(job, replicas=replicas, gpus_per_replica=0).run(videos, writer, report)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        ray.shutdown()
    if report.done != len(videos):
        raise RuntimeError(f"{report.done} of {len(videos)} videos done ({report.failed} failed)")
    return {
        "videos": len(videos),
        "clips": report.clips,
        "clips_per_s": report.steady_clips_per_s(),
        "wall_s": wall,
        "driver_cpu_s": cpu,
        "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(folder, replicas):
    """``one_run`` in a fresh process (Ray and the peak RSS start from nothing)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "bench.simulated_accelerator", "--child", folder]
        command += ["--replicas", str(replicas), "--out", out]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, ["tests", "."]))}
        done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(workdir, quick=False):
    """{figure: value}: scaling with replicas, and the driver's cost per video."""
    figures = {}
    clips_per_video = (400 - 16) // 8 + 1  # 49 clips of a 400-frame video at stride 8
    single = None
    for replicas in REPLICAS:
        # about 15 s of stand-in work a run (7 s with --quick)
        count = max(2, round(replicas * (7 if quick else 15) / SECONDS_PER_BATCH * BATCH
                             / clips_per_video))  # fmt: skip
        folder = _videos(os.path.join(workdir, f"r{replicas}"), count, 400)
        run = _child(folder, replicas)
        figures[f"sim_clips_per_s_{replicas}_replicas"] = run["clips_per_s"]
        single = single or run["clips_per_s"]
        figures[f"sim_scaling_{replicas}_replicas"] = run["clips_per_s"] / (replicas * single)
    small, large = (250, 1000) if quick else (500, 2000)
    runs = {}
    for count in (small, large):
        folder = _videos(os.path.join(workdir, f"n{count}"), count, 16)  # one clip each
        runs[count] = _child(folder, 8)
    big = runs[large]
    figures["sim_driver_videos"] = big["videos"]
    figures["sim_driver_cpu_ms_per_video"] = 1000 * big["driver_cpu_s"] / big["videos"]
    figures["sim_driver_wall_ms_per_video"] = 1000 * big["wall_s"] / big["videos"]
    grown = big["driver_peak_rss_mb"] - runs[small]["driver_peak_rss_mb"]
    figures["sim_driver_kb_per_video"] = 1024 * grown / (large - small)
    figures["sim_driver_peak_rss_mb"] = big["driver_peak_rss_mb"]
    per_video_s = big["driver_cpu_s"] / big["videos"]
    figures["sim_driver_cpu_s_100k_videos"] = per_video_s * 100_000
    figures["sim_driver_mb_100k_videos"] = figures["sim_driver_kb_per_video"] * 100_000 / 1024
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--replicas", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(one_run(args.child, args.out, args.replicas)))
        return
    with tempfile.TemporaryDirectory(prefix="c3d-sim-") as workdir:
        print(json.dumps(measure(workdir, args.quick), indent=1))


if __name__ == "__main__":
    main()
