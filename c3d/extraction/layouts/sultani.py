"""``--preset sultani``: UCF-Crime's 32 segments a video, as Sultani et al. (CVPR 2018) made them.

The rule is ``Save_C3DFeatures_32Segments.m`` of WaqasSultani/AnomalyDetectionCVPR2018
(see also its issue #18), applied to fc6 (post-ReLU) of non-overlapping 16-frame clips,
N a video ("C3D features for every 16 frames ... from fc6"):

- bounds ``thirty2_shots = round(linspace(1, N, 33))``: MATLAB's 1-based clip indices,
  halves rounded away from zero (``np.round`` would round them to even);
- segment i is ``mean(Feature_vect(ss:ee, :))`` with ``ss = t(i)``, ``ee = t(i+1) - 1``;
  when that range is empty (``ee < ss``) or one clip (``ss == ee``), the clip ``t(i)``.
  The script's ``ishots == length(thirty2_shots)`` branch never runs (the loop stops one
  short), so the last clip is used only when t(32) = N, i.e. N <= 17; and for N <= 33
  every segment is a single clip;
- each segment divided by its L2 norm (``temp_vect / norm(temp_vect)``), in double;
- written with ``fprintf(fid1, '%f ', feat_text)`` then ``'\\n'``: 32 lines of 4096
  values, 6 decimals, each followed by a space — what ``TrainingAnomalyDetector_public.py``
  reads back with ``f.read().split()``, ``len(words) / 4096`` rows.

A video the script cannot segment is a failure, with its reason: no 16-frame clip (N = 0,
under 16 frames), or a segment of zeros (its norm is 0; MATLAB would write NaN and then
stop at its ``isnan`` check). Features that are not finite are refused the same way.
"""

import numpy as np

from c3d.extraction.layouts.files import FileLayout
from c3d.extraction.writers import OutputRefused

SEGMENTS = 32
SUFFIX = "_C.txt"


def segment_bounds(n_clips, segments=SEGMENTS):
    """``round(linspace(1, N, segments + 1))`` as MATLAB computes it: 1-based, exact.

    linspace's values are 1 + i (N - 1) / segments; with 32 segments they are exact
    binary fractions, so MATLAB's rounding (halves away from zero) is taken exactly here,
    in integers: floor(v + 1/2) = (2 (segments + i (N - 1)) + segments) // (2 segments).
    """
    if n_clips < 1:
        raise ValueError(f"needs at least one clip. Received: {n_clips}")
    return [
        (2 * (segments + i * (n_clips - 1)) + segments) // (2 * segments)
        for i in range(segments + 1)
    ]


def segment_features(clips):
    """(32, D) float64: the L2-normalised segments of (N, D) clip features.

    Raises OutputRefused for a segment of zeros or features that are not finite.
    """
    clips = np.asarray(clips, dtype=np.float64)
    if not np.isfinite(clips).all():
        raise OutputRefused("its features hold NaN or Inf; Sultani's script stops on them")
    bounds = segment_bounds(len(clips))
    out = np.empty((SEGMENTS, clips.shape[1]))
    for i in range(SEGMENTS):
        first, last = bounds[i], bounds[i + 1] - 1  # 1-based, inclusive
        if last <= first:  # one clip, or an empty range: the clip t(i)
            segment = clips[first - 1]
        else:
            segment = clips[first - 1 : last].mean(axis=0)
        norm = np.linalg.norm(segment)
        if norm == 0:
            raise OutputRefused(
                f"segment {i + 1} of {SEGMENTS} (clips {first}-{max(first, last)} of "
                f"{len(clips)}) is all zeros; Sultani's script cannot normalise it"
            )
        out[i] = segment / norm
    return out


def format_segments(segments):
    """MATLAB's ``fprintf(fid, '%f ', row); fprintf(fid, '\\n')`` for each row, as bytes."""
    width = segments.shape[1]
    line = "%f " * width + "\n"
    return "".join(line % tuple(row) for row in segments.tolist()).encode("ascii")


class SultaniWriter(FileLayout):
    """``OUT/<folder>/<stem>_C.txt`` per video: 32 segments of fc6 (see the module docstring)."""

    suffix = SUFFIX
    what = "the 32-segment features"

    def render(self, arrays):
        clips = np.asarray(arrays["clips"])
        if clips.ndim != 2:
            raise OutputRefused(f"Sultani's segments take one crop a clip; got {clips.shape}")
        if bool(arrays["padded"]) or not len(clips):
            raise OutputRefused(
                f"shorter than one 16-frame clip ({int(arrays['n_frames'])} frames, N = 0): "
                "Sultani's 32 segments need at least one"
            )
        return format_segments(segment_features(clips))

    def save(self, f, content):
        f.write(content)
