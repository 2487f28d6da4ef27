"""A tiny action dataset for training tests: bright squares moving over noise.

Four classes that only motion tells apart: bright squares and the textured background
they lie on move ``down``, ``left``, ``right`` or ``up`` (any single frame is squares at
random places). Positions wrap around the frame edges, so every video moves for its
whole length. A horizontal flip turns left into right: train with ``--no-flip``.
Videos are small MJPG .avi files, written with OpenCV.
"""

import pathlib

import cv2
import numpy as np

CLASSES = ("down", "left", "right", "up")
FRAME_HW = (48, 64)
SQUARE = 10
SQUARES = 4


def _velocity(name, rng):
    speed = rng.uniform(1.5, 2.0)
    return {
        "up": (-speed, 0.0),
        "down": (speed, 0.0),
        "left": (0.0, -speed),
        "right": (0.0, speed),
    }[name]


def action_frames(name, rng, num_frames):
    """(num_frames, H, W, 3) uint8 BGR frames of one video of class ``name``."""
    height, width = FRAME_HW
    dy, dx = _velocity(name, rng)
    # Blobs a few pixels wide: their motion survives the resize (pixel noise would alias).
    coarse = rng.integers(0, 120, size=(height // 4, width // 4, 3)).astype(np.uint8)
    background = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    frames = np.stack(
        [
            np.roll(background, (round(dy * t), round(dx * t)), axis=(0, 1))
            for t in range(num_frames)
        ]
    )
    for _ in range(SQUARES):
        y, x = rng.uniform(0, height), rng.uniform(0, width)
        colour = rng.integers(200, 256, size=3)
        for t in range(num_frames):
            rows = (int(round(y + dy * t)) + np.arange(SQUARE)) % height
            cols = (int(round(x + dx * t)) + np.arange(SQUARE)) % width
            frames[t][np.ix_(rows, cols)] = colour
    return frames


def write_video(path, frames, fps=25.0):
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write MJPG .avi files here")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def make_action_videos(root, videos_per_class, seed, frames=(16, 24)):
    """Write ``root/<class>/v_<class>_gNN_c01.avi``; returns ``root`` as a Path.

    Each video is its own UCF101-style group (g01, g02, …) with a random length in
    ``frames`` (inclusive).
    """
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(videos_per_class):
            length = int(rng.integers(frames[0], frames[1] + 1))
            path = folder / f"v_{name}_g{index + 1:02d}_c01.avi"
            write_video(path, action_frames(name, rng, length))
    return root
