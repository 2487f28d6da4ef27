"""Caffe (channels-first) weight layouts to Keras (channels-last) ones, in numpy.

* Conv3D kernel: Caffe ``(out, in, d, h, w)`` -> Keras ``(d, h, w, in, out)``. Both
  frameworks compute a cross-correlation, so there is no flip, only a transpose.
* Dense kernel: Caffe ``(out, in)`` -> Keras ``(in, out)``.
* fc6, the first dense layer after pool5: Caffe flattens pool5's ``(C, D, H, W)``
  output, Keras flattens ``(D, H, W, C)``. Input row ``((c*D + d)*H + h)*W + w`` of
  Caffe's matrix becomes row ``((d*H + h)*W + w)*C + c`` of Keras'; a transpose alone
  would feed every weight the wrong pool5 unit.
"""

import numpy as np


def conv_kernel_to_keras(kernel):
    """(out, in, d, h, w) -> (d, h, w, in, out), C-contiguous."""
    return np.ascontiguousarray(np.transpose(kernel, (2, 3, 4, 1, 0)))


def dense_kernel_to_keras(kernel):
    """(out, in) -> (in, out), C-contiguous."""
    return np.ascontiguousarray(kernel.T)


def flatten_dense_kernel_to_keras(kernel, channels_last_shape):
    """A dense kernel after a flatten: Caffe (out, C*D*H*W) -> Keras (D*H*W*C, out).

    ``channels_last_shape`` is the (D, H, W, C) shape of the tensor being flattened.
    """
    *spatial, channels = channels_last_shape
    out = kernel.shape[0]
    by_unit = kernel.reshape(out, channels, *spatial)  # [o, c, d, h, w]
    rank = by_unit.ndim
    # -> [d, h, w, c, o]: spatial axes, then channels, then outputs
    order = (*range(2, rank), 1, 0)
    return np.ascontiguousarray(np.transpose(by_unit, order)).reshape(-1, out)


def shape_without_leading_ones(shape, rank):
    """``shape`` cut to ``rank`` dims by dropping leading 1s, e.g. (1, 1, 1, 1, 64) -> (64,).

    The C3D fork stores every blob 5-D: a bias as (1, 1, 1, 1, out), a dense weight as
    (1, 1, 1, out, in). Returns None if the dims to drop are not all 1.
    """
    shape = tuple(shape)
    extra = len(shape) - rank
    if extra < 0 or any(d != 1 for d in shape[:extra]):
        return None
    return shape[extra:]


def drop_leading_ones(array, rank):
    """``array`` reshaped by ``shape_without_leading_ones`` (a view), or None."""
    shape = shape_without_leading_ones(array.shape, rank)
    return None if shape is None else array.reshape(shape)
