"""``c3d extract``: placeholder until its issue lands."""

from c3d.errors import C3DError


def add_arguments(parser):
    pass


def run(args):
    raise C3DError("'c3d extract' is not implemented yet")
