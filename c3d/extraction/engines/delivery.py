"""Where a finished video goes, the same for both engines: its claim, its output, the
failure policy and the report.

- A video is claimed when its work starts (in the decoder thread, or the Ray decoding
  task, just before it is opened), so runs sharing an output — local or Ray, on any
  number of machines — split the work; a video whose output exists is not claimed.
- Its output is written by ``write_output`` (in this process, or in a Ray assembly task)
  which says how it went as an ``Outcome``, applied here: written (claim released,
  counted), failed (one line, the run goes on), or fatal (a full or read-only disk: the
  run stops with one line).
"""

import dataclasses

from c3d.errors import C3DError
from c3d.extraction.claims import Claims
from c3d.extraction.writers import OutputRefused, fatal_write_error, feature_arrays
from c3d.pipeline.messages import path_of


@dataclasses.dataclass(frozen=True)
class ExtractionJob:
    """What to compute, whichever engine runs it (picklable: Ray's tasks take it)."""

    model: object  # a ModelSpec (any engine) or FeatureModel (local only)
    clip_format: object  # c3d.video.clip_format.ClipFormat
    stride: int
    batch_size: int | None = None  # None: the engine's default for its device
    fps: float | None = None
    provenance: dict | None = None  # the settings every output records
    overwrite: bool = False

    def stream(self, *, accelerator=None, decoders=1, gpu_decode=False):
        """The ``StreamSettings`` an engine runs the core with (``accelerator``: whether the
        model runs on one, for the default batch size; None: whether this process has one)."""
        from c3d.pipeline.settings import StreamSettings
        from c3d.runtime import default_batch_size

        return StreamSettings(
            clip_format=self.clip_format,
            stride=self.stride,
            batch_size=self.batch_size or default_batch_size(accelerator=accelerator),
            fps=self.fps,
            decoders=decoders,
            gpu_decode=gpu_decode,
        )


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How writing one video's output went."""

    reason: str | None = None  # why it failed (one line), None when written
    fatal: bool = False  # the reason stops the run

    @property
    def ok(self):
        return self.reason is None


def result_arrays(result):
    """The output arrays (as in the npz) of a ``VideoResult``."""
    return feature_arrays(
        result.outputs,
        result.starts,
        result.fps,
        result.n_frames,
        result.padded,
        source_fps=result.source_fps,
    )


def write_output(writer, video, result, provenance):
    """Write one video's ``VideoResult`` into ``writer``; the ``Outcome``."""
    try:
        writer.write(video.key, result_arrays(result), provenance)
    except OutputRefused as exc:
        return Outcome(f"{path_of(video)}: {exc}")
    except OSError as exc:
        fatal = fatal_write_error(writer.describe(), exc)
        if fatal is not None:
            return Outcome(str(fatal), fatal=True)
        return Outcome(f"{path_of(video)}: cannot write its features ({exc.strerror or exc})")
    return Outcome()


@dataclasses.dataclass(frozen=True)
class ClaimCheck:
    """``f(video) -> bool``: whether this run computes ``video`` now (not done, and claimed).

    Picklable, so a Ray decoding task asks it on its node; ``owner`` is the process the
    claim names (the driver's), so a claim is the run's, wherever it was taken.
    """

    writer: object
    claims_folder: str
    owner: dict
    overwrite: bool = False
    lease: object = None  # the run's claims.Lease (its timeout), for the claims it writes

    def __call__(self, video):
        if not self.overwrite and self.writer.exists(video.key):
            return False
        # renew=False: the run's own Claims renews the claim once told (Delivery.claimed)
        claims = Claims(self.claims_folder, lease=self.lease, owner=self.owner, renew=False)
        return claims.acquire(video.key)


class Delivery:
    """The claims, writer and report of one run: what both engines hand their results to."""

    def __init__(self, job, writer, report):
        self.job, self.writer, self.report = job, writer, report
        self.claims = Claims(writer.claims_folder)
        self.check = ClaimCheck(
            writer, writer.claims_folder, self.claims.me, job.overwrite, self.claims.lease
        )

    def claim(self, video):
        """Claim ``video`` in this process (a decoder thread): True to compute it now."""
        if not self.check(video):
            return False
        self.claimed(video)
        return True

    def claimed(self, video):
        """The run holds ``video``'s claim (taken on its behalf): renewed while it works,
        released when its output is written or the run ends."""
        self.claims.hold(video.key)

    def rows_done(self, rows):
        """Count model rows done as clips (a clip takes a row per view) on the report."""
        views = self.job.clip_format.n_views
        self.report.clips_done(rows if views == 1 else rows / views)

    def skipped(self, video):
        self.report.done_elsewhere()

    def failed(self, reason):
        self.report.failure(reason)

    def written(self, video, outcome):
        """Apply an ``Outcome``: a fatal one raises ``C3DError`` (one line)."""
        if outcome.fatal:
            raise C3DError(outcome.reason)
        if not outcome.ok:
            self.report.failure(outcome.reason)
            return
        self.claims.release(video.key)
        self.report.video_done()

    def take(self, result):
        """A scheduler's result for a video: skipped, failed, or written here."""
        if result.skipped:
            self.skipped(result.video)
        elif not result.ok:
            self.failed(result.reason)
        else:
            outcome = write_output(self.writer, result.video, result, self.job.provenance)
            self.written(result.video, outcome)

    def close(self):
        """Release every claim still held (the videos that failed included: a later run
        tries them again)."""
        self.claims.release_all()
