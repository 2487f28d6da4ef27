"""Outputs at dataset scale (issue 11): topping up a big HDF5 file, and processes sharing work.

1. A 20,000-video features file (3 fc6 clips a video, ~1 GB) in c3d's layout is topped up
   with 10 videos through ``H5Writer``: seconds and bytes written (``/proc/self/io``).
   Beside it, in the same run, what the earlier design cost for the same top-up: a
   complete new file with every group copied.
2. 60 one-clip videos extracted by one ``c3d extract`` process, then by 3 processes started
   together on the same inputs and output: wall times, and the videos each did.
3. ``c3d pack`` of that 20,000-video index into one plain HDF5 file (issue 22), in a fresh
   process: wall seconds and peak RSS (the pack streams a video at a time, so its memory
   should not grow with the index).
"""

import os
import re
import subprocess
import sys
import time

import h5py
import numpy as np

from c3d.extraction.h5store import H5Writer, group_keys
from c3d.extraction.writers import feature_arrays

TOP_UP_VIDEOS = 20_000
TOP_UP_NEW = 10


def _written_bytes():
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def _arrays(rng):
    clips = rng.uniform(0, 5, (3, 4096)).astype(np.float32)
    return feature_arrays(clips, [0, 8, 16], 30.0, 40, False)


def _big_file(path, videos):
    """A features file of ``videos`` videos in H5Writer's layout: one shard, an index."""
    writer = H5Writer(path)
    shard_path = os.path.join(writer.shards, "initial.h5")
    os.makedirs(writer.shards, exist_ok=True)
    rng = np.random.default_rng(0)
    keys = [f"class{i % 100:03d}/video{i:05d}.mp4" for i in range(videos)]
    arrays = _arrays(rng)  # the same arrays everywhere: building the file is not measured
    with h5py.File(shard_path, "w") as shard:
        for key in keys:
            group = shard.create_group(key)
            for name, value in arrays.items():
                group.create_dataset(name, data=value)
    link = os.path.relpath(shard_path, os.path.dirname(os.path.abspath(path)))
    with h5py.File(path, "w") as index:
        for key in keys:
            index[key] = h5py.ExternalLink(link, "/" + key)
    return keys


def top_up(workdir):
    path = os.path.join(workdir, "big.h5")
    keys = _big_file(path, TOP_UP_VIDEOS)
    os.sync()
    rng = np.random.default_rng(1)
    start, written = time.perf_counter(), _written_bytes()
    writer = H5Writer(path)
    writer.prepare()
    for index in range(TOP_UP_NEW):
        writer.write(f"new/video{index}.mp4", _arrays(rng))
    writer.close()
    os.sync()
    seconds, written = time.perf_counter() - start, _written_bytes() - written
    assert len(group_keys(path)) == len(keys) + TOP_UP_NEW

    # The earlier design, for comparison: a complete new file, every group copied.
    start, before = time.perf_counter(), _written_bytes()
    with h5py.File(path, "r") as old, h5py.File(os.path.join(workdir, "copy.h5"), "w") as new:
        for key in group_keys(path):
            old.copy(old[key], new, name=key)
    os.sync()
    rewrite_seconds, rewrite_written = time.perf_counter() - start, _written_bytes() - before
    return {
        "h5_topup_20000_plus_10_seconds": seconds,
        "h5_topup_20000_plus_10_mb_written": written / 1e6,
        "h5_rewrite_20000_plus_10_seconds": rewrite_seconds,
        "h5_rewrite_20000_plus_10_mb_written": rewrite_written / 1e6,
    }


def pack_index(workdir, peak_rss_of):
    """Time and peak memory of ``c3d pack`` over the index ``top_up`` left in ``workdir``."""
    index = os.path.join(workdir, "big.h5")
    packed = os.path.join(workdir, "packed.h5")
    os.sync()
    figures = peak_rss_of(["pack", index, "-o", packed], workdir)
    videos = len(group_keys(packed))
    size = os.path.getsize(packed)
    os.remove(packed)
    return {
        "pack_20000_videos_seconds": figures["seconds"],
        "pack_20000_videos_peak_rss_mb": figures["peak_rss_mb"],
        "pack_20000_videos_rss_late_growth_mb": figures["second_half_peak_mb"]
        - figures["first_half_peak_mb"],
        "pack_20000_videos_file_mb": size / 1e6,
        "pack_20000_videos_count": videos,
    }


_SUMMARY = re.compile(r"done (\d+), skipped (\d+)(?:, by other processes (\d+))?, failed (\d+)")


def _extract(videos, output, weights, count):
    command = [sys.executable, "-m", "c3d", "extract", videos, "-o", output, "--weights", weights]
    start = time.perf_counter()
    processes = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    done = []
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"c3d extract failed: {stderr[-2000:]}")
        done.append(int(_SUMMARY.search(stderr).group(1)))
    return time.perf_counter() - start, done


def concurrent_processes(workdir, weights, write_video, videos=60):
    folder = os.path.join(workdir, "short")
    for index in range(videos):
        write_video(os.path.join(folder, f"v{index:02d}.mp4"), 16, size=(320, 240), seed=index)
    one_seconds, [one_done] = _extract(folder, os.path.join(workdir, "one"), weights, 1)
    three_seconds, done = _extract(folder, os.path.join(workdir, "three"), weights, 3)
    outputs = [n for _, _, files in os.walk(os.path.join(workdir, "three")) for n in files]
    return {
        "concurrent_1_process_seconds": one_seconds,
        "concurrent_3_processes_seconds": three_seconds,
        "concurrent_3_vs_1_wall_ratio": three_seconds / one_seconds,
        "concurrent_3_processes_videos_done_each": done,
        "concurrent_3_processes_every_video_once": float(
            one_done == videos
            and sum(done) == videos
            and sum(n.endswith(".npz") for n in outputs) == videos
        ),
    }
