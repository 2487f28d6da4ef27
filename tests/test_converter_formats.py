"""``c3d convert`` tells formats by content, and refuses what is not C3D, in one line.

Small files of every kind (no model is built: each check comes before TensorFlow loads),
named to mislead: the format must come from the content, never from the name.
"""

import os
import pickle

import h5py
import numpy as np
import pytest
from caffe_files import C3D_CAFFE_PLAN, write_caffemodel
from converter_helpers import assert_one_line_error, no_output_left, run_c3d
from keras2_files import write_keras224_weights

from c3d.model import plan
from converter.caffe.model import CaffeLayer
from converter.convert import convert_weights, open_source
from converter.errors import SourceFileError
from converter.sniff import CAFFE, KERAS_HDF5, TORCH_LEGACY, TORCH_ZIP, sniff

torch = pytest.importorskip("torch")
OUT = "out.weights.h5"


def _davidea(shapes=None, skip=(), extra=None):
    """A DavideA-layout state dict of 1-value tensors (or ``shapes``: {layer: (w, b)})."""
    shapes = shapes or {}
    state = {}
    for name in plan.WEIGHTED_LAYERS:
        if name in skip:
            continue
        weight_shape, bias_shape = shapes.get(name, ((1, 1), (1,)))
        state[f"{name}.weight"] = torch.ones(weight_shape)
        state[f"{name}.bias"] = torch.zeros(bias_shape)
    state.update(extra or {})
    return state


def _tiny_caffemodel(path):
    layers = [
        CaffeLayer(name, kind, [np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
        if kind in ("Convolution", "InnerProduct")
        else CaffeLayer(name, kind, [])
        for name, kind in C3D_CAFFE_PLAN
    ]
    return write_caffemodel(path, layers)


def _refused(tmp_path, source, *fragments, num_classes=None):
    with pytest.raises(SourceFileError) as caught:
        convert_weights(source, tmp_path / OUT, num_classes)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert no_output_left(tmp_path, OUT)
    return message


# ---- the format, from the content ------------------------------------------------------


def test_each_format_is_told_by_its_content_not_its_name(tmp_path):
    files = {
        "model.pth": (_tiny_caffemodel, CAFFE),
        "c3d.caffemodel": (lambda p: torch.save(_davidea(), p), TORCH_ZIP),
        "weights.h5": (
            lambda p: torch.save(_davidea(), p, _use_new_zipfile_serialization=False),
            TORCH_LEGACY,
        ),
        "c3d.pickle": (lambda p: write_keras224_weights(p, {}), KERAS_HDF5),
    }
    for name, (write, expected) in files.items():
        write(tmp_path / name)
        assert sniff(tmp_path / name) == expected, name


def test_legacy_torch_files_of_other_pickle_protocols_are_recognised(tmp_path):
    path = tmp_path / "c3d.pickle"
    torch.save(_davidea(), path, _use_new_zipfile_serialization=False, pickle_protocol=4)
    assert sniff(path) == TORCH_LEGACY


def test_what_was_found_is_described(tmp_path):
    path = tmp_path / "model.bin"
    wrapped = {f"module.{key}": value for key, value in _davidea().items()}  # DataParallel
    torch.save({"meta": {"epoch": 1}, "state_dict": wrapped}, path)
    source = open_source(path)
    assert source.kind == "PyTorch file"
    assert source.details == [
        "torch zip format",
        "a checkpoint (state_dict + meta)",
        "DavideA/c3d-pytorch layout",
        "keys under module.",
        "22 tensors",
    ]
    assert [layer.keras_name for layer in source.layers] == list(plan.WEIGHTED_LAYERS)


# ---- files that are not C3D's -----------------------------------------------------------


def test_a_torch_file_of_another_architecture(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"encoder.weight": torch.ones(2, 2), "encoder.bias": torch.ones(2)}, path)
    _refused(tmp_path, path, f"{path}: a PyTorch state dict, but not C3D's in a known layout")


def test_a_torch_file_missing_a_layer_names_it_as_the_file_does(tmp_path):
    path = tmp_path / "c3d.pth"
    torch.save(_davidea(skip={"conv5b"}), path)
    _refused(tmp_path, path, f"{path}: no weights for C3D layer(s) conv5b")


def test_a_c3d_with_batchnorm_is_refused(tmp_path):
    """mmaction2's C3D with norm_cfg: ConvModule holds a .bn next to its .conv."""
    state = {}
    for conv in plan.CONVS:
        state[f"{conv.caffe_name}.conv.weight"] = torch.ones(1, 1)
        state[f"{conv.caffe_name}.bn.weight"] = torch.ones(1)
        state[f"{conv.caffe_name}.bn.running_mean"] = torch.ones(1)
    path = tmp_path / "c3d_bn.pth"
    torch.save(state, path)
    _refused(tmp_path, path, "layer conv1a.bn has weights but C3D has no such layer")


def test_a_torch_file_with_wrong_shapes(tmp_path):
    path = tmp_path / "c3d.pickle"
    shapes = {"conv1": ((64, 3, 1, 3, 3), (64,))}
    torch.save(_davidea(shapes), path, _use_new_zipfile_serialization=False)
    result = run_c3d("convert", path, tmp_path / OUT)
    assert_one_line_error(
        result,
        f"{path}: layer conv1 has blobs (64, 3, 1, 3, 3) + (64,)",
        "C3D's conv1 needs (64, 3, 3, 3, 3) + (64,)",
    )
    assert no_output_left(tmp_path, OUT)


def test_num_classes_must_agree_with_the_files_fc8(tmp_path):
    path = tmp_path / "c3d.pth"
    torch.save(_davidea({"fc8": ((5, 4096), (5,))}), path)
    _refused(tmp_path, path, "fc8 has 5 classes, --num-classes asks for 7", num_classes=7)
    _refused(tmp_path, path, "--num-classes must be a positive integer", num_classes=0)


def test_the_file_is_never_run_only_read(tmp_path):
    """A pickle that would call os.system on load fails to load; the command never runs."""
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path = tmp_path / "c3d.pth"
    torch.save({"conv1.weight": torch.ones(1), "payload": Exploit()}, path)
    refused = f"{os.system.__module__}.system"  # posix.system: named in the message
    _refused(tmp_path, path, f"{path}: torch's weights-only loader refuses it (", refused)
    assert not marker.exists()


def test_a_zip_that_torch_did_not_write(tmp_path):
    import zipfile

    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    _refused(tmp_path, path, f"{path}: a zip archive, but not one torch.save wrote")


def test_a_plain_pickle_is_not_taken_for_a_torch_file(tmp_path):
    path = tmp_path / "c3d.pickle"
    path.write_bytes(pickle.dumps({"conv1.weight": [1.0]}, protocol=2))
    _refused(tmp_path, path, f"{path}: not a Caffe model")


def test_a_theano_ordered_keras_file_is_refused(tmp_path):
    """Keras 1 with image_dim_ordering "th": kernels (out, in, d, h, w), maybe flipped."""
    weights = {"conv1": [np.ones((64, 3, 3, 3, 3), np.float32), np.zeros(64, np.float32)]}
    path = write_keras224_weights(tmp_path / "sports1M_weights_th.h5", weights, ["conv1"], "1.2.2")
    _refused(tmp_path, path, "layer conv1 has a channels-first kernel (64, 3, 3, 3, 3)")


def test_an_hdf5_file_that_is_not_keras_weights(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.ones(3)
    _refused(tmp_path, path, f"{path}: an HDF5 file without Keras layer weights")


# ---- without torch ---------------------------------------------------------------------


def test_without_torch_one_line_says_how_to_install_it(tmp_path):
    path = tmp_path / "c3d.pickle"
    torch.save(_davidea(), path, _use_new_zipfile_serialization=False)
    blocker = tmp_path / "no_torch"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('No module named torch')\n")
    from converter_helpers import cli_env

    env = {"PYTHONPATH": os.pathsep.join([str(blocker), cli_env()["PYTHONPATH"]])}
    result = run_c3d("convert", path, tmp_path / OUT, env=env)
    assert_one_line_error(
        result,
        f"{path}: a PyTorch file (torch legacy); reading it needs torch: "
        "pip install 'c3d-keras[torch]'",
    )
