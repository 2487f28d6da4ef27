"""``c3d convert``, ``c3d convert-mean``, ``c3d fetch-weights``: placeholder until issue 3."""

from c3d.errors import C3DError


def add_arguments(name, parser):
    pass


def run(args):
    raise C3DError(f"'c3d {args.command}' is not implemented yet")
