"""``--preset rtfm``: ten-crop clip features as RTFM (tianyu0207/RTFM) and its followers read them.

RTFM's ``dataset.py`` reads a list file (``args.rgb_list``), one features path a line, and
``np.load``\\s each: an array (T, 10, F) — T clips of 16 frames, the ten crops of
torchvision's ``TenCrop`` (``ClipFormat(crops=10)``), F features (2048 for its I3D files;
4096 for C3D fc6, the C3D variant of tianyu0207/RTFM#62 and #78). Its test code repeats each
clip's score 16 times to compare with frame labels (``np.repeat(pred, 16)`` in
``test_10crop.py``): the ground truth assumes 16·T frames at the native rate.

- ``OUT/<folder>/<stem>_c3d.npy``: float32 (T, 10, 4096), fc6 of non-overlapping 16-frame
  clips (stride 16);
- ``OUT/rtfm.list``: the absolute paths of the npy files, one a line: this run's videos in
  the order they were given (RTFM splits its training list by position: abnormal videos
  first), then any other npy files under OUT, sorted. Rewritten (atomically, one process
  at a time) whenever a run ends.
"""

import os

import numpy as np

from c3d.atomic import atomic_output
from c3d.extraction.layouts.files import FileLayout
from c3d.extraction.writers import OutputRefused

SUFFIX = "_c3d.npy"
LIST_NAME = "rtfm.list"
CROPS = 10


class RtfmWriter(FileLayout):
    """``OUT/<folder>/<stem>_c3d.npy`` per video and ``OUT/rtfm.list`` (module docstring)."""

    suffix = SUFFIX
    what = "the ten-crop features"

    def __init__(self, outdir):
        super().__init__(outdir)
        self.list_path = os.path.join(self.outdir, LIST_NAME)
        self._order = []

    def expect(self, keys):
        self._order = list(keys)

    def render(self, arrays):
        clips = np.asarray(arrays["clips"], dtype=np.float32)
        if clips.ndim != 3 or clips.shape[1] != CROPS:
            raise OutputRefused(
                f"RTFM's files hold ten crops a clip, (T, 10, D); got {clips.shape}"
            )
        return clips

    def save(self, f, content):
        np.save(f, content, allow_pickle=False)

    def close(self):
        """Rewrite ``rtfm.list`` from the npy files there are now."""
        if not os.path.isdir(self.outdir):
            return
        with self._lock():
            listed = [self.path_for(key) for key in self._order]
            listed = [path for path in dict.fromkeys(listed) if os.path.isfile(path)]
            others = sorted(set(self._npy_files()) - set(listed))
            lines = "".join(f"{os.path.abspath(path)}\n" for path in [*listed, *others])
            with atomic_output(self.list_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                f.write(lines)

    def _npy_files(self):
        for root, dirs, files in os.walk(self.outdir):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.endswith(SUFFIX) and not name.startswith("."):
                    yield os.path.join(root, name)
