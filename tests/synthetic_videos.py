"""Synthetic test videos written with OpenCV: moving textures or noise, any length and size.

Long videos are cheap: frames are crops of one precomputed texture (no per-frame
drawing), so the cost is the encoder's (about 0.4 ms a 320×240 frame with mp4v, whose
files are also 5× smaller than MJPG's). ``python tests/synthetic_videos.py OUT.mp4 --seconds 1200``
writes a 20-minute video.
"""

import argparse
import os
import sys

import cv2
import numpy as np

import c3d  # noqa: F401  (its runtime defaults quiet FFmpeg's log before OpenCV starts)
from c3d.atomic import atomic_output
from c3d.errors import C3DError

# container extension -> FourCC of an encoder every OpenCV build with FFmpeg has
CODECS = {".avi": "MJPG", ".mkv": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v"}
PATTERNS = ("moving", "noise")


def _texture(rng, height, width):
    """A smooth random colour texture twice the frame size, so crops can wander over it."""
    small = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    return cv2.resize(small, (2 * width, 2 * height), interpolation=cv2.INTER_CUBIC)


def synthetic_frames(n_frames, size=(64, 48), pattern="moving", seed=0):
    """Yield ``n_frames`` BGR uint8 frames of ``size`` (width, height)."""
    width, height = size
    rng = np.random.default_rng(seed)
    if pattern == "noise":
        for _ in range(n_frames):
            yield rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        return
    if pattern != "moving":
        raise ValueError(f"unknown pattern {pattern!r} (choose from {', '.join(PATTERNS)})")
    texture = _texture(rng, height, width)
    dy, dx = (int(v) for v in rng.integers(1, 4, size=2))
    for index in range(n_frames):
        top, left = (index * dy) % height, (index * dx) % width
        yield np.ascontiguousarray(texture[top : top + height, left : left + width])


def write_video(path, n_frames, size=(64, 48), fps=25.0, pattern="moving", seed=0):
    """Write a synthetic video (codec from the extension: .avi/.mkv MJPG, .mp4/.mov mp4v).

    ``n_frames`` may be 0 (a valid container holding no frame). The file appears
    complete or not at all. Returns ``path``.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if extension not in CODECS:
        raise C3DError(
            f"{path}: cannot write {extension or 'extensionless'} videos (use {', '.join(CODECS)})"
        )
    width, height = size
    with atomic_output(path) as tmp_path:
        writer = cv2.VideoWriter(tmp_path, cv2.VideoWriter_fourcc(*CODECS[extension]), fps, size)
        if not writer.isOpened():
            raise C3DError(f"{path}: OpenCV cannot write {CODECS[extension]} video here")
        try:
            for frame in synthetic_frames(n_frames, (width, height), pattern, seed):
                writer.write(frame)
        finally:
            writer.release()
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python tests/synthetic_videos.py", description="write a synthetic test video"
    )
    parser.add_argument("output", help="video file to write (.avi, .mp4, .mkv, .mov)")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--frames", type=int, help="number of frames")
    length.add_argument("--seconds", type=float, help="duration in seconds")
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT (320x240)")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second (30)")
    parser.add_argument("--pattern", choices=PATTERNS, default="moving")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size must be WIDTHxHEIGHT, got {args.size!r}")
    n_frames = args.frames if args.frames is not None else round(args.seconds * args.fps)
    try:
        write_video(args.output, n_frames, (width, height), args.fps, args.pattern, args.seed)
    except C3DError as exc:
        print(f"synthetic_videos: error: {exc}", file=sys.stderr)
        return 1
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
