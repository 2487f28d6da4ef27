"""A video's classes over time as a PNG: each top class's probability per clip, in seconds.

What ``c3d classify --plot`` and ``make example`` draw. A line per class of the video's
top-k (the mean over clips, in the legend with that mean), each point one 16-frame clip at
its centre time, so where an action starts and stops reads at a glance. Drawn with
matplotlib's Agg canvas, without pyplot: no display needed, no global figure state.
"""

import os

import numpy as np

from c3d.atomic import atomic_output

FIGSIZE = (10, 4.6)  # inches; 1200x552 pixels at DPI
DPI = 120


def plot_classes(classified, path, top=5, title=None):
    """Write the PNG of a ``classify()`` result to ``path`` (atomically); returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    clip_probabilities = np.asarray(classified["clip_probabilities"])
    video = np.asarray(classified["video_probabilities"])
    times = np.asarray(classified["clip_seconds"])
    names = classified["class_names"]
    best = np.argsort(-video, kind="stable")[:top]

    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for rank, index in enumerate(best):
        axes.plot(
            times,
            clip_probabilities[:, index],
            marker="o",
            markersize=3.5,
            linewidth=2.2 if rank == 0 else 1.5,
            label=f"{names[index]}  ({video[index]:.2f})",
            zorder=10 - rank,
        )
    peak = float(clip_probabilities[:, best].max()) if len(best) else 1.0
    axes.set_ylim(0, min(1.04, max(0.05, peak * 1.12)))  # a line at 1.0 clears the frame
    duration = classified["n_frames"] / classified["fps"] if classified["fps"] else times[-1]
    axes.set_xlim(0, max(float(duration), float(times[-1]) if len(times) else 0.0))
    axes.set_xlabel("time in the video (s): centre of each 16-frame clip")
    axes.set_ylabel("class probability")
    axes.grid(alpha=0.3)
    axes.set_title(title or "class probability per clip", fontsize=12, loc="left")
    axes.legend(
        title=f"video's top-{len(best)} (mean over clips)",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=10,
        title_fontsize=10,
        alignment="left",
    )
    path = os.fspath(path)
    with atomic_output(path) as tmp_path:
        figure.savefig(tmp_path, format="png")
    return path
