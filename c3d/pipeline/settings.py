"""``StreamSettings``: everything a scheduler needs to know of a run, in one object."""

import dataclasses

from c3d.runtime import available_cpus
from c3d.video.clip_format import ClipFormat
from c3d.video.clips import DEFAULT_STRIDE, check_stride


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """How videos become model rows, the same for either scheduler.

    clip_format: how frames become clips and views (``ClipFormat``).
    stride: frames between clip starts.
    batch_size: rows (clip views) per model call.
    pad_last: pad the last batch with zero rows to ``batch_size`` (fixed shapes: a
        clip's result then never depends on where it sat, see ``c3d.pipeline.threads``).
    fps: resample each video to this rate before clips are cut (None: its own).
    select: ``f(video) -> clip starts`` to compute only those clips (None: every clip).
    decoders: decoding threads (local scheduler); more than videos cuts long ones.
    gpu_decode: decode with OpenCV's cudacodec (local scheduler).
    decoder_threads: FFmpeg threads of each decoder's capture; None: the CPUs this
        process may use shared among the decoders (``capture_threads``).
    """

    clip_format: ClipFormat = dataclasses.field(default_factory=ClipFormat)
    stride: int = DEFAULT_STRIDE
    batch_size: int = 8
    pad_last: bool = True
    fps: float | None = None
    select: object = None
    decoders: int = 1
    gpu_decode: bool = False
    decoder_threads: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "stride", check_stride(self.stride))
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1. Received: {self.batch_size!r}")
        object.__setattr__(self, "batch_size", int(self.batch_size))
        object.__setattr__(self, "decoders", max(1, int(self.decoders)))

    @property
    def views(self):
        """Rows a clip takes: its views (1, or 10 for ten crops)."""
        return self.clip_format.n_views

    def capture_threads(self):
        """FFmpeg threads for each capture: ``decoder_threads``, else the CPUs ÷ decoders.

        One decoder keeps FFmpeg's threads on every CPU (a single long video that cannot
        be cut still uses them); N decoders take a share each. OpenCV's default gave
        each capture one thread per CPU, so two decoders of one 720p video on 2 CPUs ran
        4 FFmpeg threads and gained nothing from the second decoder.
        """
        if self.decoder_threads is not None:
            return max(1, int(self.decoder_threads))
        return max(1, available_cpus() // self.decoders)

    def can_cut(self):
        """Whether a long video may be cut into parts for several decoders: not with
        chosen clips, the GPU decoder (which cannot seek) or resampling (parts are
        planned in the file's frames)."""
        return self.select is None and not self.gpu_decode and self.fps is None
