"""Caffe's file formats, read with the ``protobuf`` library: models (``.caffemodel``) and means.

Both dialects of C3D's files: the C3D v1.0 fork (``NetParameter.layers`` = 2, V1 layers,
5-D blobs) and upstream Caffe (``layer`` = 100, N-D blobs). ``schema`` holds the
messages, ``protofile`` the memory-mapped parsing, ``blobs`` the arrays, ``model`` the
layers of a net.
"""
