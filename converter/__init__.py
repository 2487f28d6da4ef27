"""Converting foreign C3D weight files (Caffe, PyTorch, Keras 1/2) to Keras 3 weights."""
