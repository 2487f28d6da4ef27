"""``c3d extract INPUT... -o OUT``: C3D features of many videos, resumable.

Outputs are named after each video's path relative to its INPUT folder (see
``c3d.video.inputs``): ``OUT/a/clip.mp4.npz``, or group ``a/clip.mp4`` of an HDF5 file.
A video whose output exists is skipped, so re-running after an interruption
finishes the job; outputs are written atomically (see ``c3d.extraction.writers``).

``--preset sultani|rtfm|activitynet`` writes the layout a published method reads instead,
with that method's layer, stride and crops (``c3d.extraction.layouts``); an option that
contradicts the preset is refused.
"""

import os
import sys

FORMATS = ("npz", "h5")
ENGINES = ("local", "ray")
RAY_OPTIONS = ("ray_address", "workers", "gpus_per_worker")
H5_DEFAULT_NAME = "features.h5"


def add_arguments(parser):
    from c3d.commands.options import add_decoding_arguments, add_model_arguments
    from c3d.model.architectures import ARCHITECTURES

    layers = tuple(dict.fromkeys(name for a in ARCHITECTURES.values() for name in a.feature_layers))

    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="video files, folders (searched recursively) or @list.txt (one path a line)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="folder for the .npz files; with --format h5, the .h5 file "
        f"(or a folder, for OUT/{H5_DEFAULT_NAME})",
    )
    from c3d.extraction.layouts import PRESETS

    parser.add_argument(
        "--layer", choices=layers, default=None, help="feature layer (fc6; res3d18: pool5)"
    )
    add_model_arguments(parser)
    parser.set_defaults(stride=None)  # 8, or the preset's: None tells a choice from a default
    parser.add_argument("--format", choices=FORMATS, default=None, help="output format (npz)")
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default=None,
        help="write what a published method reads, with its layer, stride and crops: "
        + "; ".join(f"{p.name}: {p.summary}" for p in PRESETS.values()),
    )
    parser.add_argument(
        "--crops",
        type=int,
        default=None,
        help="views of each clip: 1 (centre crop) or 10 (torchvision's TenCrop, as RTFM: "
        "10 forward passes a clip, each a row of --batch-size; clips (N, 10, D))",
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=None,
        metavar="N",
        help="resample each video to N frames/s (nearest timestamp) before cutting clips "
        "(default: its native rate)",
    )
    parser.add_argument(
        "--pca",
        default=None,
        metavar="FILE",
        help="--preset activitynet: the PCA file (data/U, data/S, data/x_mean, as ActivityNet's "
        "PCA_activitynet_v1-3.hdf5, or from `c3d pca fit`)",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo videos whose output exists")
    parser.add_argument(
        "--failures", metavar="FILE", default=None, help="write the failed videos here, one a line"
    )
    add_decoding_arguments(parser)
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process (default); ray: a Ray cluster (pip install 'c3d-keras[ray]'), "
        "OUT on a filesystem every node sees",
    )
    engine.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        default=None,
        help="the Ray cluster to join (e.g. HEAD:6379 or auto); default: start a local Ray",
    )
    engine.add_argument(
        "--workers",
        type=int,
        default=None,
        help="model replicas with --engine ray (default: one per GPU of the cluster, else 1)",
    )
    engine.add_argument(
        "--gpus-per-worker",
        type=float,
        default=None,
        help="GPUs per model replica with --engine ray (default: 1 on a cluster with GPUs, else 0)",
    )


def check_positive(name, value):
    from c3d.errors import C3DError

    if value is not None and value < 1:
        raise C3DError(f"{name} must be at least 1, got {value}")


def check_engine(args):
    """Ray's options only with --engine ray; the local decoders' only without it."""
    from c3d.errors import C3DError

    if args.engine != "ray":
        for name in RAY_OPTIONS:
            if getattr(args, name) is not None:
                option = "--" + name.replace("_", "-")
                raise C3DError(f"{option} needs --engine ray")
        return
    for option, given in (("--decoders", args.decoders), ("--gpu-decode", args.gpu_decode or None)):
        if given is not None:
            raise C3DError(f"{option}: with --engine ray, Ray's CPU tasks decode")
    # Ray's tasks cut centre crops at the file's own frame rate (c3d.extraction.ray_engine)
    for option, given in (
        ("--preset", args.preset),
        ("--crops", None if args.crops in (None, 1) else args.crops),
        ("--fps", args.fps),
    ):
        if given is not None:
            raise C3DError(
                "--engine ray extracts one centre crop a clip at the native frame rate, "
                f"to npz or h5. Received: {option} {given}"
            )
    check_positive("--workers", args.workers)
    if args.gpus_per_worker is not None and args.gpus_per_worker < 0:
        raise C3DError(f"--gpus-per-worker must be at least 0, got {args.gpus_per_worker}")
    from c3d.extraction.ray_engine import import_ray

    import_ray()  # without Ray: one line saying how to install it, before any work


def h5_path(output):
    """The .h5 file for -o OUT: OUT itself if named .h5/.hdf5, else OUT/features.h5."""
    if output.lower().endswith((".h5", ".hdf5")):
        return output
    return os.path.join(output, H5_DEFAULT_NAME)


def make_writer(args, preset=None, pca=None):
    from c3d.extraction.h5store import H5Writer
    from c3d.extraction.writers import NpzWriter

    if preset is not None:
        from c3d.extraction.layouts import make_writer as layout_writer

        return layout_writer(preset.name, args.output, pca)
    if args.format == "h5":
        return H5Writer(h5_path(args.output))
    return NpzWriter(args.output)


def resolve_options(args, default_layer="fc6"):
    """(preset or None, layer, stride, crops): the preset's, refusing options that contradict it."""
    from c3d.errors import C3DError
    from c3d.extraction.layouts import PRESETS

    if args.preset is None and args.pca is not None:
        raise C3DError(
            "--pca projects features for --preset activitynet. Received: --pca without --preset"
        )
    from c3d.video.clip_format import CROPS

    if args.crops is not None and args.crops not in CROPS:
        raise C3DError(f"--crops must be 1 or 10. Received: {args.crops}")
    if args.preset is None:
        layer, stride = args.layer or default_layer, 8 if args.stride is None else args.stride
        return None, layer, stride, args.crops or 1
    preset = PRESETS[args.preset]
    name = f"--preset {preset.name}"
    fixed = (("--layer", args.layer, preset.layer), ("--stride", args.stride, preset.stride))
    for option, given, wanted in (*fixed, ("--crops", args.crops, preset.crops)):
        if given is not None and given != wanted:
            raise C3DError(
                f"{name} takes {option} {wanted}, as its authors' pipeline did. Received: "
                f"{option} {given}"
            )
    if args.format is not None:
        raise C3DError(f"{name} writes its own layout. Received: --format {args.format}")
    if preset.needs_pca and args.pca is None:
        raise C3DError(
            f"{name} projects fc7 to 500 dimensions: give --pca FILE (ActivityNet's "
            "PCA_activitynet_v1-3.hdf5, or one made by `c3d pca fit`)"
        )
    if not preset.needs_pca and args.pca is not None:
        raise C3DError(f"--pca is for --preset activitynet. Received: {name} --pca {args.pca}")
    return preset, preset.layer, preset.stride, preset.crops


def load_pca(path, layer):
    """The PCA of ``--pca``, checked against the features it will project."""
    from c3d.errors import C3DError
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


def run(args):
    from c3d.commands.options import check_decoding, resolve_model
    from c3d.errors import C3DError
    from c3d.extraction import provenance
    from c3d.extraction.features import plan_outputs
    from c3d.model.architectures import architecture, check_layer
    from c3d.video.clip_format import ClipFormat
    from c3d.video.inputs import expand_inputs
    from c3d.video.resample import check_fps

    check_positive("--stride", args.stride)
    check_positive("--batch-size", args.batch_size)
    fps = check_fps(args.fps)
    check_decoding(args)
    check_engine(args)
    preset, layer, stride, crops = resolve_options(args, default_layer=None)
    pca = None if preset is None or not preset.needs_pca else load_pca(args.pca, layer)
    model_name, weights = resolve_model(args)  # --model, or the weights file's
    layer = check_layer(model_name, layer or architecture(model_name).default_layer)
    clip_format = ClipFormat.for_model(model_name, mean=args.mean, crops=crops)
    videos, problems = expand_inputs(args.inputs)
    if not videos and not problems:
        raise C3DError("no videos to extract")
    writer = make_writer(args, preset, pca)
    writer.prepare()  # an output that cannot be written fails here, before any model runs
    settings = provenance.settings(
        model=model_name,
        layer=layer,
        stride=stride,
        crops=crops,
        fps=fps,
        precision=args.precision,
        input_shape=clip_format.input_shape,
        weights=weights,
        mean_cube=clip_format.mean_cube,
        mean_source=args.mean,
        preset=None if preset is None else preset.name,
        pca=None if pca is None else args.pca,
    )
    todo, skipped, unrecorded, clashes = plan_outputs(videos, writer, settings, args.overwrite)
    problems += clashes
    if skipped:
        print(
            f"c3d extract: skipping {skipped} of {len(videos)} videos already extracted "
            f"in {writer.describe()} (--overwrite redoes them)",
            file=sys.stderr,
        )
    if unrecorded:
        print(
            f"c3d extract: {unrecorded} of them record no settings (written before c3d 1.1), "
            "so they could not be checked against this run's",
            file=sys.stderr,
        )

    model = None
    if todo and args.engine == "local":
        from c3d.model.loader import load_model

        model = load_model(weights, kind=model_name, precision=args.precision)

    from c3d.commands.reporting import RunReport

    report = RunReport(len(todo) + len(problems), failures_file=args.failures, skipped=skipped)
    try:
        for problem in problems:
            report.failure(problem)
        common = dict(
            layer=layer,
            stride=stride,
            batch_size=args.batch_size,
            clip_format=clip_format,
            settings=settings,
            overwrite=args.overwrite,
        )
        if todo and args.engine == "ray":
            from c3d.extraction.ray_engine import extract_videos_ray

            extract_videos_ray(
                todo,
                writer,
                report,
                weights=weights,
                precision=args.precision,
                address=args.ray_address,
                workers=args.workers,
                gpus_per_worker=args.gpus_per_worker,
                **common,
            )
        elif todo:
            from c3d.extraction.features import extract_videos

            extract_videos(
                todo,
                model,
                writer,
                report,
                decoders=args.decoders,
                gpu_decode=args.gpu_decode,
                fps=fps,
                **common,
            )
    finally:
        try:
            writer.close()  # h5: pack the finished videos into the file, even on Ctrl-C
        finally:
            report.close()
    print(f"c3d extract: {report.summary()}; features in {writer.describe()}", file=sys.stderr)
    return 1 if report.failed else 0
