"""One extraction run, whatever the engine: inputs → the writer → which videos to do →
the engine → the report. ``c3d extract`` is this with its options parsed.

The order matters for a user's days of work: everything that can be refused (an option,
the weights, the PCA, an output that cannot be written, an output made with other
settings) is refused before any model runs; the writer is closed (an h5 file packed)
even after Ctrl-C; the failures file is written then too.
"""

import dataclasses
import os
import sys

from c3d.errors import C3DError
from c3d.extraction import provenance
from c3d.extraction.claims import finish_claimed
from c3d.extraction.engines import ExtractionJob, ModelSpec, make_engine

H5_DEFAULT_NAME = "features.h5"


@dataclasses.dataclass(frozen=True)
class ExtractionRequest:
    """What ``c3d extract`` was asked, options resolved (layout rules applied)."""

    inputs: list
    output: str
    weights: str | None  # a name or file (resolved here); None: the model's preset
    layer: str | None  # None: the model's default (C3D fc6, Res3D-18 pool5)
    stride: int
    crops: int = 1
    precision: str = "fp32"
    batch_size: int | None = None
    mean: str | None = None
    fps: float | None = None
    layout: object = None  # a layouts.Layout (--preset), or None
    pca: str | None = None  # --pca FILE
    output_format: str = "npz"
    overwrite: bool = False
    failures: str | None = None
    engine: str = "local"
    engine_options: dict = dataclasses.field(default_factory=dict)
    model: str | None = None  # --model (c3d.model.architectures); None: the weights file's


def h5_path(output):
    """The .h5 file for -o OUT: OUT itself if named .h5/.hdf5, else OUT/features.h5."""
    if output.lower().endswith((".h5", ".hdf5")):
        return output
    return os.path.join(output, H5_DEFAULT_NAME)


def make_writer(request, pca=None):
    """The writer of ``request``'s output: a layout's, one HDF5 file, or npz files."""
    from c3d.extraction.h5store import H5Writer
    from c3d.extraction.writers import NpzWriter

    if request.layout is not None:
        from c3d.extraction.layouts import make_writer as layout_writer

        return layout_writer(request.layout.name, request.output, pca, request.overwrite)
    if request.output_format == "h5":
        return H5Writer(h5_path(request.output), overwrite=request.overwrite)
    return NpzWriter(request.output)


def load_pca(path, layer):
    """The PCA of ``--pca``, checked against the features it will project."""
    from c3d.extraction.pca import read_pca
    from c3d.model.plan import FC_UNITS

    pca = read_pca(path)
    if pca.dims != FC_UNITS:
        raise C3DError(
            f"{path}: its x_mean has {pca.dims} values; {layer} features have {FC_UNITS}"
        )
    fitted = pca.layer
    if fitted not in (None, "unknown", layer):
        raise C3DError(f"{path}: fitted to {fitted} features; --preset activitynet takes {layer}")
    return pca


def plan_outputs(videos, writer, settings, overwrite=False):
    """Which ``videos`` to compute: (todo, done before, done before without settings, problems).

    A video whose output records other settings stops the run (one line naming the first
    that differs) unless ``overwrite``; one whose key cannot be written (an HDF5 key clash)
    is a problem, reported like a failed video.
    """
    expect = getattr(writer, "expect", None)
    if expect is not None:
        expect([video.key for video in videos])
    clashes = writer.clashes(video.key for video in videos)
    problems = [
        f"{video.path}: its output {video.key!r} cannot sit beside {clashes[video.key]} in "
        f"{writer.describe()}"
        for video in videos
        if video.key in clashes
    ]
    videos = [video for video in videos if video.key not in clashes]
    recorded = {} if overwrite else writer.recorded(video.key for video in videos)
    todo, done, unrecorded = [], 0, 0
    for video in videos:
        if video.key not in recorded:
            todo.append(video)
            continue
        done += 1
        if not recorded[video.key]:
            unrecorded += 1
            continue
        message = provenance.mismatch_message(
            f"{writer.describe()}: {video.key}", recorded[video.key], settings
        )
        if message is not None:
            raise C3DError(message)
    return todo, done, unrecorded, problems


def _say(message):
    print(f"c3d extract: {message}", file=sys.stderr)


def run_extraction(request):
    """Run ``request``; the exit status (1 if any video failed)."""
    from c3d.commands.options import resolve_model
    from c3d.commands.reporting import RunReport
    from c3d.model.architectures import architecture, check_layer
    from c3d.video.clip_format import ClipFormat
    from c3d.video.inputs import expand_inputs

    layout = request.layout
    pca = load_pca(request.pca, request.layer) if layout is not None and layout.needs_pca else None
    videos, problems = expand_inputs(request.inputs)
    if not videos and not problems:
        raise C3DError("no videos to extract")
    writer = make_writer(request, pca)
    # an output that cannot be written fails here, before weights are read or fetched
    writer.prepare()
    model_name, weights = resolve_model(request.model, request.weights)
    layer = check_layer(model_name, request.layer or architecture(model_name).default_layer)
    # the model's clips: C3D 16 frames, Res3D-18 8 every 2nd minus 128 (c3d.video.clip_format)
    clip_format = ClipFormat.for_model(model_name, mean=request.mean, crops=request.crops)
    settings = provenance.settings(
        model=model_name,
        layer=layer,
        stride=request.stride,
        crops=request.crops,
        fps=request.fps,
        precision=request.precision,
        input_shape=clip_format.input_shape,
        weights=weights,
        mean_cube=clip_format.mean_cube,
        mean_source=request.mean,
        preset=None if layout is None else layout.name,
        pca=None if pca is None else request.pca,
    )
    todo, skipped, unrecorded, clashes = plan_outputs(videos, writer, settings, request.overwrite)
    problems += clashes
    if skipped:
        _say(
            f"skipping {skipped} of {len(videos)} videos already extracted in "
            f"{writer.describe()} (--overwrite redoes them)"
        )
    if unrecorded:
        _say(
            f"{unrecorded} of them record no settings (written before c3d recorded them), "
            "so they could not be checked against this run's"
        )
    job = ExtractionJob(
        model=ModelSpec(weights, request.precision, layer),
        clip_format=clip_format,
        stride=request.stride,
        batch_size=request.batch_size,
        fps=request.fps,
        provenance=settings,
        overwrite=request.overwrite,
    )
    engine = make_engine(request.engine, job, **request.engine_options)
    if todo:
        engine.prepare()  # e.g. the model loaded: its errors come before the progress bar
    report = RunReport(len(todo) + len(problems), failures_file=request.failures, skipped=skipped)
    unsettled = 0
    try:
        for problem in problems:
            report.failure(problem)
        if todo:
            engine.run(todo, writer, report)
            # videos others still claim: live claims are said, stale ones redone here
            unsettled = finish_claimed(
                todo, writer, report, redo=lambda videos: engine.run(videos, writer, report)
            )
    finally:
        try:
            writer.close()  # h5: pack the finished videos into the file, even on Ctrl-C
        finally:
            report.close()
    _say(f"{report.summary()}; features in {writer.describe()}")
    hint = getattr(writer, "share_hint", None)  # an HDF5 index: how to get one plain file
    if hint is not None:
        _say(hint())
    return 1 if report.failed or unsettled else 0
