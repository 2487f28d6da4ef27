"""``c3d extract --engine ray`` next to ``--engine local`` on this machine (issue 14).

The same videos, weights and options through both engines, each a fresh ``c3d extract``
process (as a user runs it): wall seconds from start to exit (Ray's start-up, the actors'
model loading included) and the clips/s of the run's summary line. The overhead is the
local engine's throughput over Ray's, minus 1, in %. On one machine Ray adds its start-up
(~10 s) and the model replica's own TensorFlow import and model load; the steady state is
what the clips/s of a longer run shows.

    python -m bench.ray_engine [--videos 8] [--frames 320] [--replicas 1]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

_SUMMARY = re.compile(r"done (\d+), .*\((\d+) clips in ([\d.]+) s")


def _extract(videos, output, weights, *more):
    command = [sys.executable, "-m", "c3d", "extract", videos, "-o", output]
    command += ["--weights", weights, "--batch-size", "8", *more]
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"c3d extract {' '.join(more)} failed: {done.stderr[-2000:]}")
    found = _SUMMARY.search(done.stderr)
    return {
        "videos": int(found.group(1)),
        "clips": int(found.group(2)),
        "clips_per_s": int(found.group(2)) / float(found.group(3)),  # the line rounds it
        "wall_s": seconds,
    }


def engines(workdir, weights, write_video, videos=8, frames=320, workers=1):
    """{figure: value}: clips/s and wall seconds of both engines, and Ray's overhead in %."""
    folder = os.path.join(workdir, "ray_videos")
    for index in range(videos):
        path = os.path.join(folder, f"v{index:02d}.mp4")
        write_video(path, frames, size=(320, 240), fps=30.0, seed=index)
    local = _extract(folder, os.path.join(workdir, "local"), weights)
    ray = _extract(
        folder, os.path.join(workdir, "ray"), weights, "--engine", "ray", "--replicas", str(workers)
    )
    if ray["videos"] != local["videos"] or ray["clips"] != local["clips"]:
        raise RuntimeError(f"the engines did different work: local {local}, ray {ray}")
    return {
        "ray_clips": ray["clips"],
        "local_clips_per_s": local["clips_per_s"],
        "local_wall_s": local["wall_s"],
        f"ray_{workers}_workers_clips_per_s": ray["clips_per_s"],
        f"ray_{workers}_workers_wall_s": ray["wall_s"],
        "ray_overhead_pct": (local["clips_per_s"] / ray["clips_per_s"] - 1) * 100,
        "ray_overhead_wall_pct": (ray["wall_s"] / local["wall_s"] - 1) * 100,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=320)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args(argv)
    from random_weights import write_random_weights
    from synthetic_videos import write_video

    with tempfile.TemporaryDirectory() as workdir:
        weights = str(write_random_weights(os.path.join(workdir, "w.weights.h5"), seed=0))
        results = engines(workdir, weights, write_video, args.videos, args.frames, args.replicas)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
