"""``c3d evaluate``: placeholder until its issue lands."""

from c3d.errors import C3DError


def add_arguments(parser):
    pass


def run(args):
    raise C3DError("'c3d evaluate' is not implemented yet")
