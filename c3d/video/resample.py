"""Frames resampled to another frame rate (``c3d extract --fps N``), by nearest timestamp.

Frame k of a video at ``source_fps`` is shown at k / source_fps seconds; frame j of the
resampled stream at j / fps. Frame j is the source frame whose timestamp is nearest,
k = floor(j * source_fps / fps + 1/2) (a tie goes to the later frame), computed with exact
fractions: with floats, 29.97 fps (30000/1001) would drift by a frame on long videos.
Lower rates drop frames, higher ones repeat them; the stream ends with the source's last
frame. Timestamps are taken as the container's nominal rate (frame index / fps), as the
clip cutter does: OpenCV's per-frame timestamps are not reliable across containers.
"""

import fractions

from c3d.errors import C3DError


def exact_rate(fps):
    """A frame rate as a fraction: 29.97002997 → 30000/1001 (OpenCV gives floats)."""
    return fractions.Fraction(float(fps)).limit_denominator(100_000)


MAX_FPS = 240.0  # the fastest common camera rate: beyond it, resampling only repeats frames


def check_fps(fps):
    """``--fps``: a number of frames per second in (0, MAX_FPS], or None (the native rate).

    Without the cap, ``--fps 1e9`` makes a billion frames of each second of video.
    """
    if fps is None:
        return None
    fps = float(fps)
    if not 0 < fps <= MAX_FPS:  # also refuses NaN and inf
        raise C3DError(
            f"--fps must be a number of frames per second above 0 and at most {MAX_FPS:g}. "
            f"Received: --fps {fps:g}"
        )
    return fps


def source_index(j, source_fps, fps):
    """The source frame nearest in time to frame ``j`` of the resampled stream."""
    ratio = exact_rate(source_fps) / exact_rate(fps)
    return int(j * ratio + fractions.Fraction(1, 2))  # floor: j * ratio >= 0


class Resampler:
    """Feed it a video's frames in order (``frames``); count what it read and gave.

    ``source_frames``: frames read from the video; ``frames_out``: frames given.
    """

    def __init__(self, source_fps, fps):
        if not source_fps or source_fps <= 0:
            raise ValueError("the video does not declare its frame rate")
        self.source_fps, self.fps = float(source_fps), float(fps)
        self._ratio = exact_rate(source_fps) / exact_rate(fps)
        self.source_frames = 0
        self.frames_out = 0

    def _next_source(self):
        return int(self.frames_out * self._ratio + fractions.Fraction(1, 2))

    def frames(self, source):
        """Yield the resampled frames of the iterable ``source``; closing it closes ``source``."""
        try:
            wanted = self._next_source()
            for frame in source:
                index = self.source_frames
                self.source_frames += 1
                while wanted == index:
                    yield frame
                    self.frames_out += 1
                    wanted = self._next_source()
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
