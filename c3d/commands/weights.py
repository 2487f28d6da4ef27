"""``c3d weights``: the weights known by name, and whether each is in the cache yet.

One row a preset on stdout (name, network, classes, cached or not, the converted file's
path); ``c3d fetch-weights NAME`` fetches one, and any command given the name fetches it
on first use.
"""

import os


def add_arguments(parser):
    from c3d.model.presets import CACHE_ENV, DEFAULT_CACHE

    parser.description = (
        f"List the weights known by name: the converted file in the cache (${CACHE_ENV}, "
        f"else {DEFAULT_CACHE}), fetched on first use or by `c3d fetch-weights NAME`."
    )


def rows():
    """(name, architecture, classes, cached, path) of each preset."""
    from c3d.model.presets import PRESETS, preset_path

    for preset in PRESETS.values():
        path = preset_path(preset.name)
        classes = "features" if preset.num_classes is None else str(preset.num_classes)
        cached = "yes" if os.path.isfile(path) else "no"
        yield preset.name, preset.architecture, classes, cached, path


def run(args):
    table = [("NAME", "NETWORK", "CLASSES", "CACHED", "PATH"), *rows()]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    return 0
