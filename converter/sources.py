"""Where the C3D authors published their Sports-1M Caffe model, and the converted file's name."""

SPORTS1M_CAFFEMODEL = "conv3d_deepnetA_sport1m_iter_1900000"
SPORTS1M_URLS = (
    "https://www.dropbox.com/s/vr8ckp0pxgbldhs/conv3d_deepnetA_sport1m_iter_1900000?dl=1",
    "http://vlg.cs.dartmouth.edu/c3d/conv3d_deepnetA_sport1m_iter_1900000",
)
SPORTS1M_WEIGHTS = "c3d_sports1m.weights.h5"
