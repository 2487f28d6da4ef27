"""``c3d pca fit FEATURES... -o pca.h5 [--dims 500]``: a PCA file from extracted features.

Writes the layout of ActivityNet's ``PCA_activitynet_v1-3.hdf5`` (``data/U``, ``data/S``,
``data/x_mean``) that ``c3d extract --preset activitynet --pca FILE`` projects with; see
``c3d.extraction.pca``. FEATURES: ``c3d extract`` outputs (npz files, folders of them, h5
files) of fc7 — ActivityNet's and THUMOS14's PCA were fitted to fc7.
"""

import sys

ACTIONS = ("fit",)


MAX_DIMS = 8192  # the widest features c3d writes (pool5, flattened)


def add_arguments(parser):
    from c3d.extraction.layouts import PCA_DIMS as DIMS

    parser.add_argument("action", choices=ACTIONS, help="fit: fit a PCA to features")
    parser.add_argument(
        "features",
        nargs="+",
        metavar="FEATURES",
        help="c3d extract outputs: .npz files, folders of them, or .h5 files",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the PCA file")
    parser.add_argument(
        "--dims",
        type=int,
        default=DIMS,
        help=f"components to keep ({DIMS}, as ActivityNet's; 1 to {MAX_DIMS}: pool5's size)",
    )


def run(args):
    import numpy as np
    from tqdm import tqdm

    from c3d import __version__
    from c3d.commands.options import check_range
    from c3d.extraction import pca

    check_range("--dims", args.dims, 1, MAX_DIMS)
    # delay: a file refused at once (damaged, not features) is one line, with no bar around it
    bar = tqdm(unit="video", desc="videos", file=sys.stderr, dynamic_ncols=True, delay=0.5)
    with bar:
        fitted, attrs = pca.fit(args.features, args.dims, on_video=lambda: bar.update(1))
    total = float(np.sum(fitted.S))
    kept = float(np.sum(fitted.S[: args.dims])) / total if total > 0 else 0.0
    attrs = {**attrs, "explained_variance": kept, "c3d_version": __version__}
    pca.write_pca(args.output, fitted, attrs)
    print(
        f"c3d pca: {args.dims} components of {attrs['clips']} clips ({attrs['videos']} videos, "
        f"{attrs['layer']}) keep {kept:.1%} of the variance; written to {args.output}",
        file=sys.stderr,
    )
    return 0
