"""``c3d extract --preset sultani|rtfm|activitynet``, ``--crops 10`` and ``--fps``, end to end.

In-process CLI calls on tiny videos with the full-size random C3D; the rules themselves are
checked in ``test_layouts.py`` and ``test_views_and_fps.py``. Here each preset's files are
read as the published codes read them and compared with the plain npz features of the same
videos put through the rule written in the test.
"""

import json
import os

import h5py
import numpy as np
from test_layouts import sultani_reference, write_challenge_pca
from video_helpers import make_video

from c3d.cli import main
from c3d.extraction.writers import npz_settings, read_npz


def extract(*args):
    return main(["extract", *map(str, args)])


def test_sultani_preset_writes_32_segments_resumes_and_refuses_other_settings(
    tmp_path, sport1m_weights, capsys
):
    make_video(tmp_path / "in" / "Abuse" / "Abuse001_x264.avi", 34, seed=1)  # N = 2 clips
    make_video(tmp_path / "in" / "Abuse" / "short.avi", 10, seed=2)  # N = 0: a failure
    out, common = tmp_path / "out", ["--weights", sport1m_weights, "--batch-size", "2"]
    assert extract(tmp_path / "in", "-o", out, "--preset", "sultani", *common) == 1
    err = capsys.readouterr().err
    assert "short.avi: shorter than one 16-frame clip (10 frames, N = 0)" in err
    assert "done 1, skipped 0, failed 1" in err

    # the same clips as plain fc6 features every 16 frames, through the rule in the test
    assert extract(tmp_path / "in" / "Abuse" / "Abuse001_x264.avi", "-o", tmp_path / "npz",
                   "--layer", "fc6", "--stride", "16", *common) == 0  # fmt: skip
    clips = read_npz(tmp_path / "npz" / "Abuse001_x264.avi.npz")["clips"]
    assert clips.shape == (2, 4096)
    text = (out / "Abuse" / "Abuse001_x264_C.txt").read_text()
    assert text == sultani_reference(clips)[1]
    words = text.split()  # TrainingAnomalyDetector_public.py
    assert len(words) // 4096 == 32 and len(words) % 4096 == 0
    assert os.listdir(out / "Abuse") == ["Abuse001_x264_C.txt"]
    record = json.loads(
        (tmp_path / "out.c3d" / "provenance" / "Abuse" / "Abuse001_x264_C.txt.json").read_text()
    )
    assert (record["preset"], record["layer"], record["stride"], record["crops"]) == (
        "sultani", "fc6", 16, 1,
    )  # fmt: skip

    capsys.readouterr()
    assert extract(tmp_path / "in", "-o", out, "--preset", "sultani", *common) == 1
    assert "done 0, skipped 1, failed 1" in capsys.readouterr().err  # resumed: only the failure
    assert extract(tmp_path / "in", "-o", out, "--preset", "sultani", "--stride", "8") == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "c3d extract: error: --preset sultani takes --stride 16, as its authors' pipeline did. "
        "Received: --stride 8"
    ]


def test_rtfm_preset_and_crops_10_give_the_same_ten_crops(tmp_path, sport1m_weights, capsys):
    make_video(tmp_path / "in" / "Normal_001.avi", 16, seed=3)
    common = ["--weights", sport1m_weights, "--batch-size", "10"]
    assert extract(tmp_path / "in", "-o", tmp_path / "rtfm", "--preset", "rtfm", *common) == 0
    lines = list(open(tmp_path / "rtfm" / "rtfm.list"))  # RTFM's dataset.py
    assert lines == [f"{tmp_path / 'rtfm' / 'Normal_001_c3d.npy'}\n"]
    features = np.load(lines[0].strip("\n"))
    assert features.shape == (1, 10, 4096) and features.dtype == np.float32
    assert len({features[0, i].tobytes() for i in range(10)}) == 10  # ten different views

    assert extract(tmp_path / "in", "-o", tmp_path / "npz", "--crops", "10", "--stride", "16",
                   *common) == 0  # fmt: skip
    npz = tmp_path / "npz" / "Normal_001.avi.npz"
    arrays = read_npz(npz)
    np.testing.assert_array_equal(arrays["clips"], features)
    assert arrays["video"].shape == (4096,) and npz_settings(npz)["crops"] == 10

    capsys.readouterr()
    assert (
        extract(tmp_path / "in", "-o", tmp_path / "rtfm", "--preset", "rtfm", "--crops", "1") == 1
    )
    assert "--preset rtfm takes --crops 10" in capsys.readouterr().err


def test_activitynet_preset_projects_fc7_with_the_pca_file(tmp_path, sport1m_weights, capsys):
    make_video(tmp_path / "in" / "abc123.avi", 24, seed=4)  # fc7 every 8 frames: 2 clips
    U, x_mean = write_challenge_pca(tmp_path / "pca.h5")
    common = ["--weights", sport1m_weights, "--batch-size", "2"]
    out = tmp_path / "anet.h5"
    args = ["--preset", "activitynet", "--pca", tmp_path / "pca.h5", *common]
    assert extract(tmp_path / "in", "-o", out, *args) == 0
    assert extract(tmp_path / "in", "-o", tmp_path / "npz", "--layer", "fc7", *common) == 0
    fc7 = read_npz(tmp_path / "npz" / "abc123.avi.npz")["clips"]
    with h5py.File(out, "r") as f:  # as DenseVideoCaptioning, SST, 2D-TAN read it
        got = f["v_abc123"]["c3d_features"][()]
        recorded = json.loads(f["v_abc123"].attrs["provenance"])
    assert got.shape == (2, 500) and got.dtype == np.float32
    want = (fc7.astype(np.float64) - x_mean) @ U[:, :500]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    assert (recorded["preset"], recorded["layer"], recorded["stride"]) == ("activitynet", "fc7", 8)

    write_challenge_pca(tmp_path / "other.h5", seed=9)
    capsys.readouterr()
    args[3] = tmp_path / "other.h5"
    assert extract(tmp_path / "in", "-o", out, *args) == 1
    assert "made with --pca pca.h5" in capsys.readouterr().err


def test_fps_resamples_and_records_both_rates(tmp_path, sport1m_weights):
    video = make_video(tmp_path / "in" / "v.avi", 32, seed=5)  # 25 fps
    common = ["--weights", sport1m_weights, "--batch-size", "1", "--stride", "16"]
    assert extract(video, "-o", tmp_path / "out", "--fps", "12.5", *common) == 0
    arrays = read_npz(tmp_path / "out" / "v.avi.npz")
    assert float(arrays["fps"]) == 12.5 and float(arrays["source_fps"]) == 25.0
    assert int(arrays["n_frames"]) == 16 and arrays["clips"].shape == (1, 4096)
    assert npz_settings(tmp_path / "out" / "v.avi.npz")["fps"] == 12.5


def test_contradicting_options_are_refused_in_one_line(tmp_path, capsys):
    video = tmp_path / "v.avi"
    refusals = [
        (["--preset", "sultani", "--layer", "fc7"], "--preset sultani takes --layer fc6"),
        (["--preset", "rtfm", "--format", "h5"], "--preset rtfm writes its own layout"),
        (["--preset", "activitynet"], "--preset activitynet projects fc7 to 500 dimensions"),
        (["--preset", "activitynet", "--stride", "16"], "takes --stride 8"),
        (["--pca", "p.h5"], "--pca without --preset"),
        (["--preset", "sultani", "--pca", "p.h5"], "--pca is for --preset activitynet"),
        (["--crops", "5"], "--crops must be 1 or 10. Received: 5"),
        (["--fps", "0"], "--fps must be a number of frames per second above 0"),
    ]
    for options, message in refusals:
        assert extract(video, "-o", tmp_path / "out", *options) == 1, options
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (options, err)


def test_pca_files_that_do_not_fit_the_features_are_refused(tmp_path, capsys):
    write_challenge_pca(tmp_path / "fc6.h5")
    with h5py.File(tmp_path / "fc6.h5", "a") as f:
        f["data"].attrs["layer"] = "fc6"  # as `c3d pca fit` records it
    write_challenge_pca(tmp_path / "small.h5", d=2048)
    for pca, message in (
        ("fc6.h5", "fc6.h5: fitted to fc6 features; --preset activitynet takes fc7"),
        ("small.h5", "small.h5: its x_mean has 2048 values; fc7 features have 4096"),
    ):
        args = ["--preset", "activitynet", "--pca", tmp_path / pca]
        assert extract(tmp_path / "v.avi", "-o", tmp_path / "out.h5", *args) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
