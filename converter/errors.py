"""The converter's user-facing error: one line, ``PATH: what is wrong``."""

from c3d.errors import C3DError


class CaffeFileError(C3DError, ValueError):
    """A Caffe file (.caffemodel, .binaryproto) that cannot be read or does not fit C3D.

    Also a ``ValueError``, so callers of ``c3d.mean.load_mean`` that catch bad-input
    ``ValueError``s catch this too.
    """
