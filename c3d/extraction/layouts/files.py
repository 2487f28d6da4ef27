"""Layouts of one file per video under OUT, whose settings live in a sidecar beside OUT.

``OUT/<folder of the key>/<stem><suffix>`` per video, written atomically; ``OUT.c3d/``
holds what the file cannot: ``provenance/<its name>.json`` (the run's settings and the
video's facts, JSON, written before the file, so a file never exists without its record
unless it was put there by hand) and ``claims/`` (``c3d.extraction.claims``). Readers of
the layouts never look there.

Names drop the extension, so ``a/x.mp4`` and ``a/x.avi`` would share one file: the second
is reported before any work (``clashes``), also when the file was written by an earlier run
for the other video (its record names that video).
"""

import os
import posixpath

from c3d.atomic import atomic_output, check_folder_writable, locked, remove_stale_temporaries
from c3d.errors import C3DError
from c3d.extraction import provenance
from c3d.extraction.layouts import stem, video_facts
from c3d.extraction.writers import key_path

SIDE_SUFFIX = ".c3d"


def sidecar_folder(output):
    """``OUT.c3d`` beside ``OUT`` (neither a trailing slash nor ``-o .`` puts it inside)."""
    return os.path.abspath(os.fspath(output)) + SIDE_SUFFIX


class FileLayout:
    """The writer interface (``c3d.extraction.writers``) for one file a video.

    Subclasses set ``suffix`` and ``what`` (for messages) and implement ``render(arrays)``
    (the content, or ``OutputRefused``) and ``save(file, content)``.
    """

    suffix = ""
    what = "features"

    def __init__(self, outdir):
        self.outdir = os.fspath(outdir)
        if os.path.exists(self.outdir) and not os.path.isdir(self.outdir):
            raise C3DError(f"{self.outdir}: exists and is not a folder")
        self.side = sidecar_folder(self.outdir)
        self.records = os.path.join(self.side, "provenance")
        self.claims_folder = os.path.join(self.side, "claims")

    # -- names -----------------------------------------------------------------------
    def name(self, key):
        """The '/'-separated name of ``key``'s file under OUT."""
        return posixpath.join(posixpath.dirname(key), stem(key) + self.suffix)

    def path_for(self, key):
        return key_path(self.outdir, self.name(key), "")

    def _record_path(self, key):
        return key_path(self.records, self.name(key), ".json")

    def _record(self, key):
        """The JSON record of ``key``'s file ({} if none)."""
        path = self._record_path(key)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise C3DError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        return provenance.from_json(text, path)

    # -- the writer interface --------------------------------------------------------
    def describe(self):
        return self.outdir

    def prepare(self):
        check_folder_writable(self.outdir, self.what)
        check_folder_writable(self.side, "the settings of the features")
        remove_stale_temporaries(self.outdir)
        remove_stale_temporaries(self.side)

    def exists(self, key):
        return os.path.isfile(self.path_for(key))

    def recorded(self, keys):
        return {key: self._record(key) for key in keys if self.exists(key)}

    def clashes(self, keys):
        """Keys whose file another video of this run, or of an earlier one, has."""
        found, owners = {}, {}
        for key in keys:
            name = self.name(key)
            if name in owners:
                found[key] = f"{owners[name]} (both are {name})"
                continue
            owners[name] = key
            if self.exists(key):
                earlier = self._record(key).get("video", {}).get("key")
                if earlier is not None and earlier != key:
                    found[key] = f"{earlier}, whose features {name} already holds"
        return found

    def write(self, key, arrays, settings=None):
        """Write ``key``'s file (``render`` may refuse it), its record first."""
        content = self.render(arrays)
        if settings is not None:
            record = {**settings, "video": video_facts(key, arrays)}
            with atomic_output(self._record_path(key)) as tmp, open(tmp, "w") as f:
                f.write(provenance.to_json(record))
        path = self.path_for(key)
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            self.save(f, content)
        return path

    def close(self):
        pass

    # -- for subclasses ----------------------------------------------------------------
    def render(self, arrays):
        raise NotImplementedError

    def save(self, f, content):
        raise NotImplementedError

    def _lock(self):
        """One process at a time (``c3d.atomic.locked``)."""
        return locked(self.side)
