"""Decoding throughput without a model: frames/s and clips/s of what the decoders feed it.

- ``decoding_throughput``: the streaming path (``c3d.video.stream.run_videos``) with a
  stand-in model that costs nothing and takes uint8 crops as c3d's own predictors do (the
  mean is subtracted in the model's graph, ``c3d.model.preprocessor``): what the decoders
  can feed a model. With more decoders than videos, a long video is cut into parts
  (``c3d.video.segments``).
- ``floor_fps``: OpenCV's decode and its uint8 bilinear resize to 128×171 alone, on one
  thread: the work Caffe-exact features cannot avoid, the per-core ceiling of a decoder.
- ``raw_decode_fps``: OpenCV's decode alone, on one thread.

``python -m bench.decode_speed VIDEO [--decoders 1,2]`` prints these as one JSON object;
``measure_in_child(VIDEO, pin=True)`` runs that on one CPU (as ``taskset -c``, set before
the child starts, so OpenCV and FFmpeg size their threads for it): its
``share_of_floor_decoders1`` is the per-core figure, which issue 23 wants at 0.9 or more.
"""

import argparse
import json
import os
import sys
import time

import cv2
import numpy as np

from c3d.video.clip_format import RESIZE_HW


class _NoModel:
    """A model that costs nothing, taking uint8 view crops as c3d's own predictors do
    (``c3d.model.inference.Predictor``): the mean is the model's work, not the decoders'."""

    def __call__(self, batch):
        return np.zeros((len(batch), 1), np.float32)

    def on_view_crops(self, crops, views, clip_format):
        return np.zeros((len(crops), 1), np.float32)


no_model = _NoModel()


def decoding_throughput(videos, decoders, batch_size=8, stride=8):
    """{frames_per_s, clips_per_s} of the streaming path over ``videos`` (no model)."""
    from c3d.video.stream import run_videos

    start = time.perf_counter()
    frames = clips = 0
    for result in run_videos(
        list(videos), no_model, batch_size=batch_size, decoders=decoders, stride=stride
    ):
        if not result.ok:
            raise RuntimeError(result.reason)
        frames += result.n_frames
        clips += len(result.starts)
    seconds = time.perf_counter() - start
    return {"frames_per_s": frames / seconds, "clips_per_s": clips / seconds}


def raw_decode_fps(path, threads=1, max_frames=None, resize_hw=None):
    """Frames/s of ``cv2.VideoCapture.read`` with FFmpeg on ``threads`` threads, each frame
    then resized to ``resize_hw`` (bilinear, uint8, as c3d does) when given."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
    frames = 0
    start = time.perf_counter()
    try:
        while max_frames is None or frames < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if resize_hw is not None:
                cv2.resize(frame, resize_hw[::-1], interpolation=cv2.INTER_LINEAR)
            frames += 1
    finally:
        capture.release()
    return frames / (time.perf_counter() - start)


def floor_fps(path, max_frames=None):
    """Frames/s of OpenCV's decode + resize to 128×171 alone, one thread: the floor."""
    return raw_decode_fps(path, 1, max_frames, resize_hw=RESIZE_HW)


def measure(path, decoders=(1, 2), repeats=3):
    """The best of ``repeats`` runs of each figure (a shared machine only slows runs down)."""
    figures = {
        "raw_frames_per_s": max(raw_decode_fps(path) for _ in range(repeats)),
        "floor_frames_per_s": max(floor_fps(path) for _ in range(repeats)),
    }
    for n in decoders:
        speed = max(decoding_throughput([path], n)["frames_per_s"] for _ in range(repeats))
        figures[f"frames_per_s_decoders{n}"] = speed
        figures[f"share_of_floor_decoders{n}"] = speed / figures["floor_frames_per_s"]
    return figures


def measure_in_child(path, decoders=(1, 2), repeats=3, pin=False):
    """``measure`` in a child process; ``pin``: on one CPU (the first this one may use)."""
    import subprocess

    command = [sys.executable, "-m", "bench.decode_speed", str(path)]
    command += ["--decoders", ",".join(map(str, decoders)), "--repeats", str(repeats)]
    cpu = min(os.sched_getaffinity(0))
    done = subprocess.run(
        command,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if pin else None,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.decode_speed", description=__doc__)
    parser.add_argument("video")
    parser.add_argument("--decoders", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    decoders = [int(n) for n in args.decoders.split(",")]
    print(json.dumps(measure(args.video, decoders, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
