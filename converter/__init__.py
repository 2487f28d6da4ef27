"""Reading Caffe C3D model files (both the C3D v1.0 fork and upstream Caffe) and converting them."""
