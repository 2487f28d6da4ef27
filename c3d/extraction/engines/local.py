"""The local engine: the core's stages on threads of this process (``c3d.pipeline.threads``)."""

import contextlib

from c3d.extraction.engines.delivery import Delivery
from c3d.pipeline.settings import StreamSettings
from c3d.pipeline.threads import run_videos
from c3d.runtime import default_batch_size, default_decoders


class LocalEngine:
    """``decoders`` decoding threads (default ``c3d.runtime.default_decoders()``), a batcher
    thread and the model in the caller's thread."""

    def __init__(self, job, *, decoders=None, gpu_decode=False):
        self.job = job
        self.settings = StreamSettings(
            clip_format=job.clip_format,
            stride=job.stride,
            batch_size=job.batch_size or default_batch_size(),
            fps=job.fps,
            decoders=decoders or default_decoders(),
            gpu_decode=gpu_decode,
        )

    def prepare(self):
        """Load the model (once a process), before any video is claimed."""
        self._predict = self.job.model.predict()

    def run(self, videos, writer, report):
        """Extract ``videos`` (``c3d.video.inputs.VideoInput``) into ``writer``, telling
        ``report``; a full or read-only disk stops it (``C3DError``)."""
        delivery = Delivery(self.job, writer, report)
        predict = getattr(self, "_predict", None) or self.job.model.predict()
        views = self.settings.views

        def counted(rows):  # a clip takes ``views`` rows
            delivery.clips_done(rows if views == 1 else rows / views)

        results = run_videos(videos, predict, self.settings, on_batch=counted, claim=delivery.claim)
        try:
            with contextlib.closing(results):
                for result in results:
                    delivery.take(result)
        finally:
            delivery.close()
