"""What comes out of the model for whole videos: features, classes, and the files they go to.

``features`` (fc6/fc7/pool5 of videos), ``classification`` (Sports-1M classes), and
``writers`` (npz files or one HDF5 file, written atomically).
"""
