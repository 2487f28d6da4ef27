"""A video's model rows → its ``VideoResult``, once its end message says how many to expect.

Rows come in any order (a cut video's parts are decoded at once; a Ray actor writes its
batches when it can) and some may come twice (Ray redoes the batches of a lost actor), so
a row is known by its place, ``(start, view, part)``, and kept once (a part decoded again
from frame 0 repeats the starts of the part it replaces, which is dropped). Rows of parts the end
message leaves out (a cut that could not be proven, see ``c3d.video.segments``) are
dropped, also those that come after it. ``Completion`` counts places without holding
rows (the Ray driver); ``Assembly`` holds them too (the local scheduler, and a Ray
assembly task reading a video's part files).
"""

import numpy as np

from c3d.pipeline.messages import VideoResult


class Completion:
    """Which rows of one video have come, and whether all its rows are there."""

    def __init__(self, views=1):
        self.views = views
        self.places = set()  # (start, view, part)
        self.done = None  # the VideoDone message, once decoding finished

    def add(self, start, part, view):
        """Count a row; False if it is not wanted (a repeat, or of a dropped part)."""
        place = (int(start), int(view), int(part))
        if place in self.places or (self.done is not None and part not in self.done.parts):
            return False
        self.places.add(place)
        return True

    def finish(self, done):
        self.done = done
        self.places = {place for place in self.places if place[2] in done.parts}

    def complete(self):
        return self.done is not None and len(self.places) == self.done.n_clips * self.views

    def clips(self):
        """Clips whose every view has come (what a progress bar counts)."""
        return len(self.places) / self.views


class Assembly(Completion):
    """A ``Completion`` that keeps the rows' outputs."""

    def __init__(self, views=1):
        super().__init__(views)
        self.rows = {}  # (start, view, part) -> output row

    def add_row(self, start, part, view, row):
        if self.add(start, part, view):
            self.rows[(int(start), int(view), int(part))] = row
            return True
        return False

    def finish(self, done):
        super().finish(done)
        self.rows = {place: row for place, row in self.rows.items() if place in self.places}

    def result(self, index, video):
        """The ``VideoResult``: clips in the order of their starts, views in theirs."""
        rows = [((start, view), row) for (start, view, _), row in self.rows.items()]
        rows.sort(key=lambda place_row: place_row[0])
        return result_from_rows(index, video, rows, self.done, self.views)


def result_from_rows(index, video, rows, done, views=1):
    """A ``VideoResult`` from ``[((start, view), output row)]`` sorted by place."""
    outputs = np.stack([row for _, row in rows]).astype(np.float32, copy=False)
    if views > 1:
        outputs = outputs.reshape(-1, views, outputs.shape[-1])
    return VideoResult(
        index=index,
        video=video,
        outputs=outputs,
        starts=np.asarray([start for (start, _), _ in rows[::views]], dtype=np.int64),
        fps=float(done.fps),
        n_frames=int(done.n_frames),
        padded=bool(done.padded),
        source_fps=None if done.source_fps is None else float(done.source_fps),
    )
