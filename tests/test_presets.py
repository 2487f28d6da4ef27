"""Weights by name: the presets table, mirrors, offline, refusals, ``c3d weights``, fc8's rule.

Small files served from 127.0.0.1 (``converter_helpers.file_server``): nothing here
converts a full-size file (``test_first_run.py`` does). The published URLs are replaced
by local ones wherever a source may fail, so no test reaches the internet.
"""

import ast
import dataclasses
import inspect
import os
import re

import numpy as np
import pytest
from converter_helpers import file_server, unused_port_url
from video_helpers import make_video

from c3d.cli import main
from c3d.errors import C3DError
from c3d.model import builder, loader, presets
from c3d.model.labels import weights_labels
from c3d.model.weights import WeightsFileError
from converter.download import PART_SUFFIX, DownloadError, download, sha256_file
from converter.fetch import fetch_preset

SIZE = 200_000


@pytest.fixture()
def payload(tmp_path):
    path = tmp_path / "served" / "published.bin"
    path.parent.mkdir()
    path.write_bytes(np.random.default_rng(3).integers(0, 256, SIZE, np.uint8).tobytes())
    return path


@pytest.fixture()
def online(monkeypatch, tmp_path):
    """Downloading allowed, into an empty cache of this test."""
    monkeypatch.delenv(presets.OFFLINE_ENV)
    monkeypatch.setenv(presets.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _local(monkeypatch, name, **changes):
    """Preset ``name`` with ``changes`` (local URLs, a known hash) while the test runs."""
    preset = dataclasses.replace(presets.PRESETS[name], **changes)
    monkeypatch.setitem(presets.PRESETS, name, preset)
    return preset


# ---- the table ---------------------------------------------------------------------


def test_every_preset_is_its_own_published_file():
    table = presets.PRESETS
    assert list(table) == ["sports1m", "ucf101", "sports1m_mmaction2"]
    assert {p.architecture for p in table.values()} == {"c3d"}
    assert len({p.source_file for p in table.values()}) == len(table)
    assert [table[n].num_classes for n in table] == [487, 101, None]
    assert table["sports1m"].file_name == "c3d_sports1m.weights.h5"  # the file of before
    assert table["ucf101"].source_file == "c3d_ucf101_finetune_whole_iter_20000"
    assert "mkc9q7g4wnqnmcv" in table["ucf101"].urls[0]
    mmaction2 = table["sports1m_mmaction2"]
    assert mmaction2.source_file == "c3d_sports1m_pretrain_20201016-dcc47ddc.pth"
    assert mmaction2.urls[0].startswith("https://download.openmmlab.com/")
    assert mmaction2.sha256 == "dcc47ddc"  # mmaction2's NAME_DATE-SHA256PREFIX
    ucf101 = weights_labels("ucf101")
    assert len(ucf101) == 101 and ucf101[0] == "ApplyEyeMakeup" and ucf101[-1] == "YoYo"
    assert list(ucf101) == sorted(ucf101, key=str.lower)  # classInd.txt's order
    assert len(weights_labels("sports1m")) == 487 and weights_labels("x.h5") is None


def test_mirrors_come_before_the_published_sources(monkeypatch):
    monkeypatch.setenv(presets.MIRRORS_ENV, "http://lan/c3d/ https://mirror.example.org/w")
    assert presets.sources(presets.PRESETS["ucf101"]) == [
        "http://lan/c3d/c3d_ucf101_finetune_whole_iter_20000",
        "https://mirror.example.org/w/c3d_ucf101_finetune_whole_iter_20000",
        *presets.PRESETS["ucf101"].urls,
    ]


# ---- downloads: checked before they are kept -----------------------------------------


def test_a_wrong_hash_is_refused_and_not_kept(tmp_path, payload):
    target = tmp_path / "model"
    with file_server({"/m": payload}) as server:
        with pytest.raises(DownloadError, match="is not the published 0123abcd; not kept"):
            download(server.url("/m"), target, progress=False, sha256="0123abcd")
        assert os.listdir(tmp_path) == ["served"]  # neither the file nor a .part
        download(server.url("/m"), target, progress=False, sha256=sha256_file(payload)[:8])
    assert target.read_bytes() == payload.read_bytes()


def test_a_web_page_is_refused_whatever_its_content_type(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("\n  <!DOCTYPE html><html><body>Too many requests</body></html>")
    with file_server({"/m": page}) as server:  # served as application/octet-stream
        with pytest.raises(DownloadError, match="sent a web page, not the file"):
            download(server.url("/m"), tmp_path / "model", progress=False)
    assert not (tmp_path / "model").exists()
    assert not (tmp_path / f"model{PART_SUFFIX}").exists()


def test_the_mmaction2_name_refuses_a_file_without_its_hash(online, payload, monkeypatch):
    """Served under the published name, a file whose sha256 does not start with dcc47ddc
    is refused by every source, and nothing is left in the cache."""
    name = presets.PRESETS["sports1m_mmaction2"].source_file
    with file_server({f"/{name}": payload}) as server:
        _local(monkeypatch, "sports1m_mmaction2", urls=(unused_port_url(),))
        monkeypatch.setenv(presets.MIRRORS_ENV, server.url("/"))
        with pytest.raises(C3DError) as caught:
            fetch_preset("sports1m_mmaction2", progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{server.url('/' + name)}: sha256 " in message
    assert "is not the published dcc47ddc; not kept" in message
    assert "Connection refused" in message  # the dead source after it
    assert "other weights by name: sports1m, ucf101" in message
    assert [n for n in os.listdir(online) if not n.startswith(".")] == []


def test_offline_is_one_line_and_downloads_nothing(tmp_path, capsys):
    video = make_video(tmp_path / "v.avi", 16)
    assert main(["classify", video, "--weights", "ucf101"]) == 1  # C3D_OFFLINE=1 (conftest)
    err = capsys.readouterr().err.strip().splitlines()
    cache = presets.cache_dir()
    assert err == [
        f"c3d classify: error: {os.path.join(cache, 'c3d_ucf101.weights.h5')}: no such weights "
        "file, and C3D_OFFLINE=1 keeps c3d from downloading it: put "
        "c3d_ucf101_finetune_whole_iter_20000 (published at "
        f"{presets.PRESETS['ucf101'].urls[0]}) in {cache}, where it is converted on first "
        "use, or get them with `c3d fetch-weights ucf101` where there is a network"
    ]


def test_offline_converts_a_published_file_already_in_the_cache(online, monkeypatch):
    """Offline, the published file is looked for in the cache: there, it is used (here a
    file that is not C3D's, so the conversion's one-line refusal shows it was read)."""
    monkeypatch.setenv(presets.OFFLINE_ENV, "1")
    online.mkdir()
    (online / presets.PRESETS["ucf101"].source_file).write_bytes(b"\x08\x01not caffe")
    with pytest.raises(C3DError, match="c3d_ucf101_finetune_whole_iter_20000: "):
        fetch_preset("ucf101", progress=False)
    assert not (online / "c3d_ucf101.weights.h5").exists()


def test_classify_says_a_features_only_preset_has_no_classes(tmp_path, capsys):
    video = make_video(tmp_path / "v.avi", 16)
    assert main(["classify", video, "--weights", "sports1m_mmaction2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert (
        "c3d_sports1m_mmaction2.weights.h5: the sports1m_mmaction2 weights have no fc8: "
        "features only (c3d extract); classes come from sports1m, ucf101"
    ) in err[0]


# ---- c3d weights, fetch-weights ------------------------------------------------------


def test_c3d_weights_lists_every_preset_cached_or_not(sport1m_weights, online, capsys):
    online.mkdir()
    os.symlink(sport1m_weights, online / "c3d_sports1m.weights.h5")
    assert main(["weights"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        ["NAME", "NETWORK", "CLASSES", "CACHED", "PATH"],
        ["sports1m", "c3d", "487", "yes", str(online / "c3d_sports1m.weights.h5")],
        ["ucf101", "c3d", "101", "no", str(online / "c3d_ucf101.weights.h5")],
        ["sports1m_mmaction2", "c3d", "features", "no",
         str(online / "c3d_sports1m_mmaction2.weights.h5")],
    ]  # fmt: skip
    assert main(["fetch-weights", "sports1m", "nope"]) == 1
    assert "unknown weights 'nope' (choose from sports1m, ucf101" in capsys.readouterr().err


# ---- one way from weights to a model -------------------------------------------------


def test_builder_and_loader_do_not_import_each_other():
    def imported(module):
        tree = ast.parse(inspect.getsource(module))
        return {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}  # fmt: skip

    assert "c3d.model.loader" not in imported(builder)
    assert "c3d.model.resolve" in imported(builder) and "c3d.model.resolve" in imported(loader)


def test_c3d_and_load_model_share_fc8s_rule(sport1m_weights):
    from c3d import C3D_model

    message = re.escape("c3d_random.weights.h5: fc8 has 487 classes, 101 expected (new_head=True")
    with pytest.raises(WeightsFileError, match=message):
        C3D_model(weights=sport1m_weights, num_classes=101)
    with pytest.raises(WeightsFileError, match=message):
        loader.load_model(sport1m_weights, num_classes=101)
    assert C3D_model(weights=sport1m_weights).output_shape == (None, 487)  # the file's
    with pytest.raises(C3DError, match="unknown precision 'fp16'"):
        C3D_model(precision="fp16")


def test_classify_plot_writes_a_png_per_video(sport1m_weights, tmp_path, capsys):
    import matplotlib.image

    def classify(*args):
        return main(["classify", *map(str, args)])

    videos = [make_video(tmp_path / "in" / f"{name}.avi", 24, seed=i) for i, name in
              enumerate(("a", "b"))]  # fmt: skip
    options = ["--weights", sport1m_weights, "--batch-size", "2"]
    assert classify(videos[0], *options, "--plot", tmp_path / "one.png") == 0
    image = matplotlib.image.imread(tmp_path / "one.png")
    assert image.shape[:2] == (552, 1200)  # FIGSIZE at DPI
    assert classify(*videos, *options, "--plot", tmp_path / "many.png") == 0
    assert sorted(p.name for p in tmp_path.glob("many*")) == ["many-a.avi.png", "many-b.avi.png"]
    assert classify(videos[0], *options, "--plot", tmp_path) == 1
    assert "--plot takes a file name (OUT.png), not a folder" in capsys.readouterr().err
