"""The C3D model: the layer plan, the builders, weight files, loading and inference.

Importing this package loads no Keras: ``plan`` is pure arithmetic, and the other
modules are imported by name where they are needed.
"""
