"""The local engine: the core's stages on threads of this process (``c3d.pipeline.threads``)."""

import contextlib

from c3d.extraction.engines.delivery import Delivery
from c3d.pipeline.threads import run_videos
from c3d.runtime import default_decoders


class LocalEngine:
    """``decoders`` decoding threads (default ``c3d.runtime.default_decoders()``), a batcher
    thread and the model in the caller's thread."""

    def __init__(self, job, *, decoders=None, gpu_decode=False):
        self.job = job
        self.settings = job.stream(decoders=decoders or default_decoders(), gpu_decode=gpu_decode)

    def prepare(self):
        """Load the model (once a process), before any video is claimed."""
        self._predict = self.job.model.predict()

    def run(self, videos, writer, report):
        """Extract ``videos`` (``c3d.video.inputs.VideoInput``) into ``writer``, telling
        ``report``; a full or read-only disk stops it (``C3DError``)."""
        delivery = Delivery(self.job, writer, report)
        predict = getattr(self, "_predict", None) or self.job.model.predict()
        results = run_videos(
            videos, predict, self.settings, on_batch=delivery.rows_done, claim=delivery.claim
        )
        try:
            with contextlib.closing(results):
                for result in results:
                    delivery.take(result)
        finally:
            delivery.close()
