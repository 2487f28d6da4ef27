"""The converter's user-facing errors: one line, ``PATH: what is wrong``."""

from c3d.errors import C3DError


class SourceFileError(C3DError, ValueError):
    """A weights file to convert that cannot be read or does not fit C3D (any format).

    Also a ``ValueError``, so callers that catch bad-input ``ValueError``s catch this too.
    """


class CaffeFileError(SourceFileError):
    """A Caffe file (.caffemodel, .binaryproto) that cannot be read or does not fit C3D.

    A ``ValueError`` too, so callers of ``c3d.mean.load_mean`` that catch bad-input
    ``ValueError``s catch this too.
    """
