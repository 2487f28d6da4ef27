"""The layouts of ``--preset`` (``c3d.extraction.layouts``) and the PCA file, with fake features.

Each rule is written again here from its published source, independently of the code under
test: Sultani et al.'s ``Save_C3DFeatures_32Segments.m`` (MATLAB: 1-based
``round(linspace(1, N, 33))``, halves away from zero; the mean of clips t(i)..t(i+1)-1, or
the clip t(i) when that is empty; v / norm(v) in double; ``fprintf('%f ')``), RTFM's
``np.load`` of (T, 10, F) files listed one a line, and the ActivityNet PCA
``(x - x_mean) @ U[:, :500]`` read as ``h5py.File(f)["v_<id>"]["c3d_features"]``.
"""

import fractions
import json
import math
import os

import h5py
import numpy as np
import pytest

from c3d.errors import C3DError
from c3d.extraction import pca as pca_module
from c3d.extraction.layouts import make_writer
from c3d.extraction.layouts.files import sidecar_folder
from c3d.extraction.writers import OutputRefused, feature_arrays

D = 4096
SETTINGS = {"layer": "fc6", "stride": 16, "crops": 1, "preset": "sultani"}


def arrays_of(clips, padded=False):
    clips = np.asarray(clips, np.float32)
    return feature_arrays(clips, np.arange(len(clips)) * 16, 30.0, 16 * len(clips), padded)


# -- Sultani -----------------------------------------------------------------------------


def matlab_round(value):
    """MATLAB's round: halves away from zero (value is a Fraction)."""
    return int(math.copysign(math.floor(abs(value) + fractions.Fraction(1, 2)), value))


def sultani_reference(features):
    """Save_C3DFeatures_32Segments.m, line by line, in Python (1-based indices kept)."""
    n = len(features)
    # linspace(1, N, 33): 1 + (k - 1) (N - 1) / 32 for k = 1..33, exactly
    thirty2_shots = [
        matlab_round(1 + fractions.Fraction((k - 1) * (n - 1), 32)) for k in range(1, 34)
    ]
    segments = []
    for ishots in range(1, len(thirty2_shots)):  # 1 : length - 1
        ss = thirty2_shots[ishots - 1]
        ee = thirty2_shots[ishots] - 1
        if ss == ee:
            temp = features[ss - 1 : ee].astype(np.float64)[0]
        elif ee < ss:
            temp = features[ss - 1].astype(np.float64)
        else:
            temp = features[ss - 1 : ee].astype(np.float64).mean(axis=0)
        segments.append(temp / math.sqrt(float(np.sum(temp * temp))))
    text = "".join("".join(f"{v:f} " for v in seg) + "\n" for seg in segments)
    return thirty2_shots, text


@pytest.mark.parametrize("n_clips", [1, 5, 17, 18, 31, 32, 33, 100])
def test_sultani_segments_follow_the_matlab_script(tmp_path, n_clips):
    rng = np.random.default_rng(n_clips)
    # every clip's features are distinct and positive, so each segment shows its clips
    clips = rng.uniform(0.0, 3.0, (n_clips, D)).astype(np.float32)
    bounds, want = sultani_reference(clips)
    writer = make_writer("sultani", tmp_path / "out")
    writer.prepare()
    path = writer.write("Abuse/Abuse001_x264.mp4", arrays_of(clips), SETTINGS)
    assert path == str(tmp_path / "out" / "Abuse" / "Abuse001_x264_C.txt")
    with open(path) as f:
        got = f.read()
    assert got == want  # byte for byte: %f, a space after each value, 32 lines

    # read as TrainingAnomalyDetector_public.py does: split, len // 4096 rows
    words = got.split()
    rows = np.array(words, dtype=np.float64).reshape(len(words) // 4096, 4096)
    assert rows.shape == (32, 4096)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-4)

    # the consequences the issue states
    used = {b for i in range(32) for b in range(bounds[i], max(bounds[i], bounds[i + 1] - 1) + 1)}
    assert (n_clips in used) == (n_clips <= 17)
    if n_clips <= 33:  # every segment one clip: each row is a normalised clip
        for i, row in enumerate(rows):
            clip = clips[bounds[i] - 1].astype(np.float64)
            assert np.allclose(row, clip / np.linalg.norm(clip), atol=1e-6)


def test_sultani_rounds_halves_away_from_zero_not_to_even():
    # N = 17: linspace(1, 17, 33) = 1, 1.5, 2, ... ; MATLAB rounds 1.5 to 2, np.round to 2,
    # but 2.5 to 3 where np.round gives 2: segment 4 starts at clip 3.
    from c3d.extraction.layouts.sultani import segment_bounds

    bounds = segment_bounds(17)
    assert bounds[:5] == [1, 2, 2, 3, 3]
    assert bounds[3] == 3 and np.round(2.5) == 2  # the negative control: np.round differs
    for n in (1, 2, 5, 17, 18, 31, 32, 33, 100, 1000, 12345):
        assert bounds_equal(segment_bounds(n), sultani_reference(np.ones((n, 1)))[0])


def bounds_equal(a, b):
    return list(a) == list(b)


def test_videos_sultani_cannot_segment_are_refused_with_the_reason(tmp_path):
    writer = make_writer("sultani", tmp_path / "out")
    writer.prepare()
    with pytest.raises(OutputRefused, match="shorter than one 16-frame clip"):
        writer.write("short.mp4", arrays_of(np.ones((1, D)), padded=True), SETTINGS)
    clips = np.ones((40, D), np.float32)
    clips[10:12] = 0  # N = 40: segment 9 is clips 10..11 (1-based), all zeros
    with pytest.raises(OutputRefused, match="is all zeros"):
        writer.write("zeros.mp4", arrays_of(clips), SETTINGS)
    assert not os.path.exists(tmp_path / "out" / "short_C.txt")
    assert not os.path.exists(tmp_path / "out" / "zeros_C.txt")


def test_sultani_settings_sit_beside_the_output_and_make_it_resumable(tmp_path):
    out = tmp_path / "out"
    writer = make_writer("sultani", out)
    writer.prepare()
    clips = np.ones((3, D), np.float32)
    writer.write("a/x.mp4", arrays_of(clips), SETTINGS)
    # nothing but the txt in OUT (the training code lists OUT's folders and files)
    assert sorted(os.listdir(out)) == ["a"] and os.listdir(out / "a") == ["x_C.txt"]
    record = json.loads((tmp_path / "out.c3d" / "provenance" / "a" / "x_C.txt.json").read_text())
    assert record["layer"] == "fc6" and record["video"]["key"] == "a/x.mp4"
    assert sidecar_folder(str(out) + "/") == str(tmp_path / "out.c3d")
    assert sidecar_folder(".") == os.getcwd() + ".c3d"

    again = make_writer("sultani", out)
    assert again.exists("a/x.mp4") and not again.exists("a/y.mp4")
    assert again.recorded(["a/x.mp4", "a/y.mp4"])["a/x.mp4"]["stride"] == 16
    # x.avi would write x_C.txt too: refused before any work, also across runs
    assert "a/x.mp4" in again.clashes(["a/x.avi"])["a/x.avi"]
    assert set(again.clashes(["b/y.mp4", "b/y.avi"])) == {"b/y.avi"}


# -- RTFM ---------------------------------------------------------------------------------


def test_rtfm_files_are_t_by_10_by_d_and_listed_as_rtfm_reads_them(tmp_path):
    out = tmp_path / "out"
    writer = make_writer("rtfm", out)
    writer.prepare()
    keys = ["Abuse/Abuse001_x264.mp4", "Normal/Normal_001.mp4"]
    writer.expect(keys)
    rng = np.random.default_rng(0)
    written = {}
    for key, t in zip(keys, (3, 5), strict=True):
        clips = rng.standard_normal((t, 10, 64)).astype(np.float32)
        written[key] = clips
        writer.write(key, arrays_of(clips), {**SETTINGS, "crops": 10, "preset": "rtfm"})
    with pytest.raises(OutputRefused, match="ten crops"):
        writer.write("one_crop.mp4", arrays_of(np.ones((3, 64))), SETTINGS)
    writer.close()

    # RTFM's dataset.py: list(open(rgb_list)), then np.load(path.strip('\n'))
    lines = list(open(out / "rtfm.list"))
    assert [line.strip("\n") for line in lines] == [
        str(out / "Abuse" / "Abuse001_x264_c3d.npy"),
        str(out / "Normal" / "Normal_001_c3d.npy"),
    ]
    for line, key in zip(lines, keys, strict=True):
        features = np.load(line.strip("\n"))
        assert features.dtype == np.float32 and features.shape == written[key].shape
        assert np.array_equal(features, written[key])


# -- ActivityNet and the PCA file ----------------------------------------------------------


def write_challenge_pca(path, d=D, k=500, seed=0):
    """A PCA file laid out as PCA_activitynet_v1-3.hdf5: data/U (D, K), data/S, data/x_mean."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((d, k)).astype(np.float32)
    x_mean = rng.uniform(0, 1, (1, d)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["data/U"] = U
        f["data/S"] = np.linspace(2, 1, k)
        f["data/x_mean"] = x_mean
    return U, x_mean


def test_activitynet_groups_hold_the_pca_projection_read_with_h5py(tmp_path):
    U, x_mean = write_challenge_pca(tmp_path / "pca.h5")
    pca = pca_module.read_pca(tmp_path / "pca.h5")
    writer = make_writer("activitynet", tmp_path / "anet.h5", pca)
    writer.prepare()
    rng = np.random.default_rng(1)
    fc7 = {"a/abc123.mp4": rng.uniform(0, 4, (6, D)), "b/v_xyz.mkv": rng.uniform(0, 4, (2, D))}
    assert writer.clashes(fc7) == {}
    for key, clips in fc7.items():
        writer.write(key, arrays_of(clips), {**SETTINGS, "layer": "fc7", "preset": "activitynet"})
    writer.close()

    with h5py.File(tmp_path / "anet.h5", "r") as f:
        assert sorted(f) == ["v_abc123", "v_xyz"]  # v_ added only where missing
        for key, name in (("a/abc123.mp4", "v_abc123"), ("b/v_xyz.mkv", "v_xyz")):
            got = f[name]["c3d_features"][()]
            want = (np.asarray(fc7[key], np.float32).astype(np.float64) - x_mean) @ U[:, :500]
            assert got.dtype == np.float32 and got.shape == (len(fc7[key]), 500)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
            # negative control: without the mean it is another projection
            assert not np.allclose(got, fc7[key] @ U[:, :500], rtol=1e-3)
            assert json.loads(f[name].attrs["provenance"])["video"]["key"] == key

    again = make_writer("activitynet", tmp_path / "anet.h5", pca)
    again.prepare()
    assert again.exists("a/abc123.mp4") and again.exists("c/v_abc123.avi")
    assert "a/abc123.mp4" in again.clashes(["c/v_abc123.avi"])["c/v_abc123.avi"]


def test_pca_fit_streams_npz_and_h5_and_matches_numpy(tmp_path, monkeypatch):
    from c3d.cli import main
    from c3d.extraction.h5store import H5Writer
    from c3d.extraction.writers import NpzWriter

    rng = np.random.default_rng(2)
    d = 24
    basis = rng.standard_normal((d, d))
    videos = [rng.standard_normal((n, d)) * np.linspace(5, 0.1, d) @ basis + 3 for n in (7, 1, 30)]
    npz = NpzWriter(tmp_path / "npz")
    npz.prepare()
    for i, clips in enumerate(videos[:2]):
        npz.write(f"v{i}.mp4", arrays_of(clips), {"layer": "fc7"})
    h5 = H5Writer(tmp_path / "more.h5")
    h5.prepare()
    h5.write("v2.mp4", arrays_of(videos[2]), {"layer": "fc7"})
    h5.close()

    monkeypatch.setattr(pca_module, "CHUNK_ROWS", 5)  # several chunks merged
    out = tmp_path / "pca.h5"
    assert (
        main(
            [
                "pca",
                "fit",
                str(tmp_path / "npz"),
                str(tmp_path / "more.h5"),
                "-o",
                str(out),
                "--dims",
                "5",
            ]
        )
        == 0
    )

    x = np.concatenate(videos).astype(np.float32).astype(np.float64)
    mean = x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(x, rowvar=False))
    order = np.argsort(values)[::-1]
    with h5py.File(out, "r") as f:  # the challenge's layout
        U, S, x_mean = f["data/U"][()], f["data/S"][()], f["data/x_mean"][()]
    assert U.shape == (d, 5) and x_mean.shape == (1, d) and S.shape == (d,)
    np.testing.assert_allclose(x_mean[0], mean, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(S, values[order], rtol=1e-8, atol=1e-9)
    for j in range(5):  # components equal up to sign
        want = vectors[:, order[j]]
        assert min(np.abs(U[:, j] - want).max(), np.abs(U[:, j] + want).max()) < 1e-8
    # projections as the readers' codes compute them
    got = pca_module.read_pca(out, dims=5).project(x[:4], 5)
    np.testing.assert_allclose(np.abs(got), np.abs((x[:4] - x_mean) @ U), rtol=1e-5, atol=1e-4)


def test_pca_files_that_do_not_fit_are_one_line_errors(tmp_path):
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["data/U"] = np.zeros((10, 500))
    with pytest.raises(C3DError, match="not a PCA file: no x_mean"):
        pca_module.read_pca(tmp_path / "bad.h5")
    write_challenge_pca(tmp_path / "few.h5", d=32, k=20)
    with pytest.raises(C3DError, match="holds 20 components, 500 are needed"):
        pca_module.read_pca(tmp_path / "few.h5")
