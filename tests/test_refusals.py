"""Bad values and damaged files are one line, not a traceback or an exhausted machine
(issue 22): every numeric option has a range shown in --help, absurd weights are refused
before any array is allocated, our own files read damaged say which, and fetch-weights
checks its folder before it downloads."""

import re

import h5py
import numpy as np
import pytest

from c3d.cli import build_parser, main
from c3d.commands import options
from c3d.errors import C3DError
from c3d.model.weights import WeightsFileError, check_weight_shapes
from conftest import BASEBALL_VIDEO


def one_error_line(capsys, *fragments):
    """stderr holds exactly one line, an error naming every fragment, and no traceback."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert re.match(r"c3d [\w-]+: error: ", lines[0]), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("command", "option", "value", "says"),
    [
        ("extract", "--batch-size", "100000", "--batch-size must be between 1 and "),
        ("classify", "--batch-size", "100000", "--batch-size must be between 1 and "),
        ("extract", "--batch-size", "0", "--batch-size must be between 1 and inf"),
        ("extract", "--fps", "1e9", "--fps must be a number of frames per second above 0 and "),
        ("extract", "--fps", "nan", "at most 240. Received: --fps nan"),
        ("extract", "--decoders", "100000", "--decoders must be between 1 and "),
        ("classify", "--decoders", "0", "--decoders must be between 1 and "),
        ("extract", "--stride", "1000000000", "--stride must be between 1 and 100000"),
        ("extract", "--claim-timeout", "0", "--claim-timeout must be between 1 and 86400"),
        ("classify", "--top", "5000", "--top must be between 1 and 1000"),
    ],
)
def test_each_numeric_cap_is_one_line(tmp_path, capsys, command, option, value, says):
    args = [command, str(BASEBALL_VIDEO), option, value]
    if command == "extract":
        args += ["-o", str(tmp_path / "out")]
    assert main(args) == 1
    line = one_error_line(capsys, says, f"Received: {option} ")
    if option == "--batch-size" and value != "0":
        assert "GB of memory is available" in line  # the computed cap, with its reason
    assert not (tmp_path / "out").exists()  # refused before any work


def test_ray_workers_are_capped_before_ray_is_imported(tmp_path, capsys):
    args = ["extract", str(BASEBALL_VIDEO), "-o", str(tmp_path), "--engine", "ray"]
    assert main([*args, "--workers", "100000"]) == 1
    one_error_line(capsys, "--replicas must be between 1 and 1024. Received: --replicas 100000")
    assert main([*args, "--gpus-per-worker", "1000"]) == 1
    one_error_line(capsys, "--gpus-per-replica must be between 0 and 64")


def test_the_batch_size_cap_is_computed_from_memory_and_views():
    gb = 1 << 30
    one_view = options.max_batch_size(1, on_cpu=True, available=16 * gb)
    assert 100 < one_view < 200  # ~117 MB a clip on a CPU (activations included)
    assert options.max_batch_size(10, on_cpu=True, available=16 * gb) == one_view // 10
    assert options.max_batch_size(1, on_cpu=False, available=16 * gb) > 8 * one_view
    assert options.max_batch_size(1, on_cpu=True, available=0) == 1
    assert options.check_batch_size(8, on_cpu=True) == 8  # the defaults pass


def test_help_shows_every_range(capsys):
    parser = build_parser()
    for command, ranges in {
        "extract": ["1 to 100000", "at most 240", "1 to 86400", "1 to 1024", "0 to 64"],
        "classify": ["1 to 1000", "1 to 100000"],
    }.items():
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for fragment in [*ranges, "what fits in the memory available", "4 a CPU"]:
            assert fragment in text, (command, fragment)


def legacy_weights(path, shapes):
    """A Keras 2 weights file declaring datasets of ``shapes`` ({layer: [shape...]}), their
    data never written (HDF5 allocates chunks only when written: the file stays small)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name in shapes]
        for layer, layer_shapes in shapes.items():
            group = f.create_group(layer)
            names = [f"{layer}/w{i}:0" for i in range(len(layer_shapes))]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, shape in zip(names, layer_shapes, strict=True):
                group.create_dataset(name, shape=shape, dtype="f4", chunks=True)
    return path


def test_absurd_weights_are_one_line_before_any_array_is_allocated(tmp_path, capsys):
    from c3d.model.plan import weight_shapes

    shapes = weight_shapes()
    huge = {**shapes, "fc6": [(8192 * 1_000_000, 4096), (4096,)]}  # 134 TB if read
    path = legacy_weights(tmp_path / "absurd.h5", huge)
    assert path.stat().st_size < 1 << 20
    args = ["extract", str(BASEBALL_VIDEO), "-o", str(tmp_path / "out"), "--weights", str(path)]
    assert main(args) == 1
    one_error_line(
        capsys, "absurd.h5: layer fc6 has weights of shape (8192000000, 4096) + (4096,)",
        "C3D's fc6 needs (8192, 4096) + (4096,)",
    )  # fmt: skip
    classes = legacy_weights(tmp_path / "classes.h5", {**shapes, "fc8": [(4096, 10**9), (10**9,)]})
    with pytest.raises(WeightsFileError, match="1000000000 classes, C3D's fc8 takes 1 to 100000"):
        check_weight_shapes(classes)
    other = legacy_weights(tmp_path / "other.h5", {**shapes, "optimizer": [(10**12,)]})
    with pytest.raises(WeightsFileError, match="layer optimizer has weights of shape"):
        check_weight_shapes(other)
    # the negative control: a file of the plan's shapes passes, with fc8's class count
    assert check_weight_shapes(legacy_weights(tmp_path / "fine.h5", shapes)) == 487


def test_a_corrupt_npz_is_one_line_in_pca_fit(tmp_path, capsys):
    good = tmp_path / "good.npz"
    np.savez(good, clips=np.ones((4, 8), np.float32))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a cut copy
    garbled = tmp_path / "garbled.npz"
    garbled.write_bytes(b"PK\x03\x04" + b"\x17" * 200)
    for bad in (cut, garbled):
        assert main(["pca", "fit", str(bad), "-o", str(tmp_path / "pca.h5")]) == 1
        one_error_line(capsys, f"{bad}: not a readable features file")
    not_h5 = tmp_path / "features.h5"
    not_h5.write_bytes(b"not an HDF5 file at all")
    assert main(["pca", "fit", str(not_h5), "-o", str(tmp_path / "pca.h5")]) == 1
    one_error_line(capsys, f"{not_h5}: not a readable HDF5 file")
    assert not (tmp_path / "pca.h5").exists()


def test_a_corrupt_pca_file_is_one_line(tmp_path):
    from c3d.extraction.pca import read_pca

    path = tmp_path / "pca.h5"
    with h5py.File(path, "w") as f:
        f["data/U"] = np.eye(4)
        f["data/x_mean"] = np.zeros((1, 4))
    data = bytearray(path.read_bytes())
    data[len(data) // 2 :] = b"\xff" * (len(data) - len(data) // 2)  # the second half garbled
    path.write_bytes(bytes(data))
    with pytest.raises(C3DError, match=rf"{path}: not a readable PCA file"):
        read_pca(path, dims=2)


def test_fetch_weights_checks_an_unwritable_cache_before_downloading(tmp_path, monkeypatch, capsys):
    import converter.download

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded before checking the folder")

    monkeypatch.setattr(converter.download, "download", no_download)
    (tmp_path / "a-file").write_text("x")  # a folder cannot be made below a file
    monkeypatch.setenv("C3D_HOME", str(tmp_path / "a-file" / "models"))
    assert main(["fetch-weights", "--url", "http://127.0.0.1:9/none"]) == 1
    one_error_line(capsys, "a-file/models: cannot write the weights there", "set $C3D_HOME")
