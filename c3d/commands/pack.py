"""``c3d pack INDEX -o FILE``: one self-contained, plain HDF5 file from a features index.

``c3d extract --format h5`` writes an index whose videos are links into shards beside it
(``OUT.c3d/shards``); this writes the file to share: every video a real group, same keys,
attributes and provenance. See ``c3d.extraction.pack``.
"""

import sys


def add_arguments(parser):
    parser.add_argument(
        "index",
        metavar="INDEX",
        help="a features .h5 written by c3d extract (--format h5, "
        "--preset activitynet), its .c3d folder beside it",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the plain HDF5 file to write"
    )


def run(args):
    from tqdm import tqdm

    from c3d.extraction.pack import pack, staged_videos

    def progress(total):
        return tqdm(total=total, unit="link", desc="packing", file=sys.stderr, dynamic_ncols=True)

    videos = pack(args.index, args.output, progress=progress)
    print(
        f"c3d pack: {videos} videos of {args.index} written to {args.output}, one plain HDF5 "
        "file (every reader sees them, h5py's visititems included)",
        file=sys.stderr,
    )
    waiting = staged_videos(args.index)
    if waiting:
        print(
            f"c3d pack: {waiting} more videos are finished but not yet in {args.index} (staged "
            "by a run still going, or killed): the next c3d extract on it adds them; pack again "
            "then",
            file=sys.stderr,
        )
    return 0
