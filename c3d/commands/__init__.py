"""One module per ``c3d`` sub-command: ``add_arguments(parser)`` and ``run(args) -> int``.

These modules are imported to build ``c3d --help``, so they must not import Keras or
TensorFlow at module level: import heavy things inside ``run``.
"""
