"""``c3d extract INPUT... -o OUT``: C3D features of many videos, resumable.

Outputs are named after each video's path relative to its INPUT folder (see
``c3d.video.inputs``): ``OUT/a/clip.mp4.npz``, or group ``a/clip.mp4`` of an HDF5 file.
A video whose output exists is skipped, so re-running after an interruption
finishes the job; outputs are written atomically (see ``c3d.extraction.writers``).

``--preset sultani|rtfm|activitynet`` writes the layout a published method reads instead,
with that method's layer, stride and crops (``c3d.extraction.layouts``); an option that
contradicts it is refused. This module only parses and checks options: the run is
``c3d.extraction.run``, on either engine (``c3d.extraction.engines``).
"""

FORMATS = ("npz", "h5")
RAY_OPTIONS = {"ray_address": "--ray-address", "replicas": "--replicas"}
RAY_OPTIONS["gpus_per_replica"] = "--gpus-per-replica"
LOCAL_OPTIONS = {"decoders": "--decoders", "gpu_decode": "--gpu-decode"}


def add_arguments(parser):
    from c3d.commands.options import (
        MAX_GPUS_PER_REPLICA,
        MAX_REPLICAS,
        add_decoding_arguments,
        add_model_arguments,
        range_text,
    )
    from c3d.extraction.claims import DEFAULT_TIMEOUT_S, TIMEOUT_RANGE_S
    from c3d.extraction.engines import ENGINES
    from c3d.extraction.layouts import LAYOUTS
    from c3d.extraction.run import H5_DEFAULT_NAME
    from c3d.model.plan import FEATURE_LAYERS
    from c3d.video.resample import MAX_FPS

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
    parser.add_argument(
        "--layer", choices=tuple(FEATURE_LAYERS), default=None, help="feature layer (fc6)"
    )
    add_model_arguments(parser)
    parser.set_defaults(stride=None)  # 8, or the layout's: None tells a choice from a default
    parser.add_argument("--format", choices=FORMATS, default=None, help="output format (npz)")
    parser.add_argument(
        "--preset",
        choices=tuple(LAYOUTS),
        default=None,
        help="write what a published method reads, with its layer, stride and crops: "
        + "; ".join(f"{p.name}: {p.summary}" for p in LAYOUTS.values()),
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
        f"(default: its native rate; above 0, at most {MAX_FPS:g})",
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
    parser.add_argument(
        "--claim-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="processes sharing OUT claim each video, and renew their claims while they work; "
        "a claim not renewed for this long is taken over, whichever host made it "
        f"({DEFAULT_TIMEOUT_S:g}; {range_text(*TIMEOUT_RANGE_S)})",
    )
    add_decoding_arguments(parser)
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process (default); ray: a Ray cluster (pip install 'c3d-keras[ray]'), "
        "OUT on a filesystem every node sees. Every option works on both, with the same outputs",
    )
    engine.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        default=None,
        help="the Ray cluster to join (e.g. HEAD:6379 or auto); default: start a local Ray",
    )
    engine.add_argument(
        "--replicas",
        "--workers",
        dest="replicas",
        type=int,
        metavar="N",
        default=None,
        help="model replicas with --engine ray (default: one per GPU of the cluster, else 1; "
        f"{range_text(1, MAX_REPLICAS)}; --workers: its former name)",
    )
    engine.add_argument(
        "--gpus-per-replica",
        "--gpus-per-worker",
        dest="gpus_per_replica",
        type=float,
        metavar="G",
        default=None,
        help="GPUs per model replica with --engine ray (default: 1 on a cluster with GPUs, "
        f"else 0; {range_text(0, MAX_GPUS_PER_REPLICA)}; --gpus-per-worker: its former name)",
    )


def check_numbers(args, crops):
    """The ranges of extract's numeric options not checked elsewhere: --stride, --batch-size
    (what fits in memory, for ``crops`` views a clip), --claim-timeout."""
    from c3d.commands.options import MAX_STRIDE, check_batch_size, check_range
    from c3d.extraction import claims

    check_range("--stride", args.stride, 1, MAX_STRIDE)
    check_batch_size(args.batch_size, crops, on_cpu=None if args.engine == "local" else False)
    claims.configure(check_range("--claim-timeout", args.claim_timeout, *claims.TIMEOUT_RANGE_S))


def engine_options(args):
    """The chosen engine's options, refusing the other engine's."""
    from c3d.commands.options import MAX_GPUS_PER_REPLICA, MAX_REPLICAS, check_range
    from c3d.errors import C3DError

    others = LOCAL_OPTIONS if args.engine == "ray" else RAY_OPTIONS
    for name, option in others.items():
        if getattr(args, name) not in (None, False):
            if args.engine == "ray":
                raise C3DError(f"{option}: with --engine ray, Ray's CPU tasks decode")
            raise C3DError(f"{option} needs --engine ray")
    if args.engine != "ray":
        return {"decoders": args.decoders, "gpu_decode": args.gpu_decode}
    check_range("--replicas", args.replicas, 1, MAX_REPLICAS)
    check_range("--gpus-per-replica", args.gpus_per_replica, 0, MAX_GPUS_PER_REPLICA)
    from c3d.extraction.engines.ray import import_ray

    import_ray()  # without Ray: one line saying how to install it, before any work
    return {
        "address": args.ray_address,
        "replicas": args.replicas,
        "gpus_per_replica": args.gpus_per_replica,
    }


def resolve_layout(args):
    """(layout or None, layer, stride, crops): a layout's, or the options' and defaults."""
    from c3d.errors import C3DError
    from c3d.extraction.layouts import LAYOUTS
    from c3d.video.clip_format import CROPS
    from c3d.video.clips import DEFAULT_STRIDE

    if args.preset is None and args.pca is not None:
        raise C3DError(
            "--pca projects features for --preset activitynet. Received: --pca without --preset"
        )
    if args.crops is not None and args.crops not in CROPS:
        raise C3DError(f"--crops must be 1 or 10. Received: {args.crops}")
    if args.preset is None:
        stride = DEFAULT_STRIDE if args.stride is None else args.stride
        return None, args.layer or "fc6", stride, args.crops or 1
    layout = LAYOUTS[args.preset]
    return (layout, *layout.resolve(args.layer, args.stride, args.crops, args.format, args.pca))


def run(args):
    from c3d.commands.options import check_decoding
    from c3d.extraction.run import ExtractionRequest, run_extraction
    from c3d.model.plan import check_layer
    from c3d.video.resample import check_fps

    fps = check_fps(args.fps)
    check_decoding(args)
    options = engine_options(args)
    layout, layer, stride, crops = resolve_layout(args)
    check_numbers(args, crops)
    check_layer(layer)
    request = ExtractionRequest(
        inputs=args.inputs,
        output=args.output,
        weights=args.weights,
        layer=layer,
        stride=stride,
        crops=crops,
        precision=args.precision,
        batch_size=args.batch_size,
        mean=args.mean,
        fps=fps,
        layout=layout,
        pca=args.pca,
        output_format=args.format or "npz",
        overwrite=args.overwrite,
        failures=args.failures,
        engine=args.engine,
        engine_options=options,
    )
    return run_extraction(request)
