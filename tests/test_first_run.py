"""The first run, from a clean clone, and every preset from a full-size file of its format.

The published files are full-size fixtures written here (random weights, the authors'
layer names and shapes; one set of conv1a-fc7 weights for all three, so that one
Caffe-semantics forward pass, ``caffe_reference.forward``, is the reference of every
preset) and served from 127.0.0.1 by a server the tests start; ``$C3D_MIRRORS`` points
at it, so the published URLs are never tried (a test that makes a source fail replaces
them with local ones first):

* ``make example`` in a copy of the repository's files, with an empty ``$C3D_HOME``:
  fetches and converts ``sports1m``, prints the top-5 and where the npz and the PNG went;
* two processes loading ``ucf101`` at once: one download, one conversion, one good file;
* ``sports1m_mmaction2`` through a mirror that cuts the connection, a dead source and a
  good one: resumed, its sha256 checked, features only.
"""

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
from caffe_files import c3d_layers, random_c3d_weights, write_caffemodel
from caffe_reference import forward, relative_error
from converter_helpers import REPO, cli_env, file_server, unused_port_url

from c3d.model import presets
from converter.caffe.model import C3D_FORK
from converter.download import PART_SUFFIX, sha256_file

SEED = 11
TOLERANCE = 1e-4  # max |keras - reference| / max |reference|, as in test_converter.py
UCF101 = presets.PRESETS["ucf101"]
SPORTS1M = presets.PRESETS["sports1m"]
MMACTION2 = presets.PRESETS["sports1m_mmaction2"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The three published files (full size), in one folder as a mirror serves them."""
    folder = tmp_path_factory.mktemp("published")
    weights = random_c3d_weights(487, SEED)
    rng = np.random.default_rng(SEED + 1)
    ucf_fc8 = [
        rng.standard_normal((101, 4096), dtype=np.float32) * np.float32(0.02),
        rng.uniform(-0.1, 0.1, 101).astype(np.float32),
    ]
    write_caffemodel(folder / SPORTS1M.source_file, c3d_layers(weights), C3D_FORK)
    write_caffemodel(
        folder / UCF101.source_file, c3d_layers({**weights, "fc8-1": ucf_fc8}), C3D_FORK
    )
    yield types.SimpleNamespace(folder=folder, weights=weights, ucf_fc8=ucf_fc8)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server(published):
    files = {f"/mirror/{p.name}": p for p in published.folder.iterdir()}
    with file_server(files) as running:
        yield running


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(SEED + 2).uniform(-1, 1, (1, 16, 112, 112, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def reference(published, clips):
    """Caffe-semantics fc6 and softmax of ``clips`` (channels-first in), for all presets."""
    blobs = forward(published.weights, clips.transpose(0, 4, 1, 2, 3))
    ucf = forward({"fc8-1": published.ucf_fc8}, None, "fc8-1", blobs["fc7"])
    return types.SimpleNamespace(fc6=blobs["fc6"], prob=blobs["prob"], ucf_prob=ucf["prob"])


def _outputs(weights_file, clips, num_classes=None):
    """(fc6, softmax) of the C3D loaded from ``weights_file``."""
    import keras

    from c3d import C3D_model

    model = C3D_model(weights=weights_file, num_classes=num_classes)
    probe = keras.Model(model.inputs, [model.get_layer("fc6").output, model.outputs[0]])
    return probe.predict_on_batch(clips)


def _env(cache, server):
    return {
        **cli_env(),
        "C3D_HOME": str(cache),
        "C3D_MIRRORS": server.url("/mirror/"),
        "C3D_OFFLINE": "",
    }


def _clean_copy(destination):
    """The repository's files as a fresh clone has them: tracked and not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def test_make_example_fetches_classifies_plots_and_extracts(
    tmp_path, published, server, clips, reference
):
    if not (REPO / ".git").exists() or shutil.which("make") is None:
        pytest.skip("needs a git checkout and make")
    clone = _clean_copy(tmp_path / "clone")
    assert not (clone / "runs").exists() and not (clone / "models" / SPORTS1M.file_name).exists()
    # The venv `make` would make: this interpreter instead, and its stamp never remade (-o),
    # so that make installs nothing into the environment running the tests.
    stamp = tmp_path / "installed"
    stamp.touch()
    cache = tmp_path / "cache"
    env = _env(cache, server)
    env["PYTHONPATH"] = str(clone)
    done = subprocess.run(
        ["make", "-o", stamp, "example", "USE_DOCKER=0", f"VPY={sys.executable}", f"STAMP={stamp}"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.splitlines()
    top = out.index("top-5 classes (mean of the clips' softmax):")
    assert all(re.fullmatch(r"  [01]\.\d{4}  \S.*", line) for line in out[top + 1 : top + 6])
    png = os.path.join("runs", "example", "v_BaseballPitch_g01_c01.avi.png")
    npz = os.path.join("runs", "example", "v_BaseballPitch_g01_c01.avi.npz")
    assert f"classes over time plotted to {png}" in out
    assert f"features saved to {npz}" in out
    assert (clone / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.load(clone / npz)["clips"].shape[1] == 4096
    # fetched once, from the mirror, with the published name appended
    assert [path for path, _ in server.requests if SPORTS1M.source_file in path] == [
        f"/mirror/{SPORTS1M.source_file}"
    ]
    assert (cache / SPORTS1M.source_file).stat().st_size == (
        published.folder / SPORTS1M.source_file
    ).stat().st_size

    fc6, prob = _outputs(cache / SPORTS1M.file_name, clips)
    assert prob.shape == (1, 487)
    assert relative_error(fc6, reference.fc6) <= TOLERANCE
    assert relative_error(prob, reference.prob) <= TOLERANCE


def test_two_first_uses_at_once_end_with_one_good_file(
    tmp_path, published, server, clips, reference
):
    """What ``load_model("ucf101")`` runs on first use (``fetch_preset``), in two processes:
    one downloads and converts, the other waits for it and finds the file."""
    cache = tmp_path / "cache"
    before = len(server.requests)
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "c3d", "fetch-weights", "ucf101"],
            env=_env(cache, server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [child.communicate(timeout=600) for child in children]
    for child, (_, stderr) in zip(children, results, strict=True):
        assert child.returncode == 0, stderr[-3000:]
    # one of them converted (its layer table on stdout), the other found the file made
    assert sorted(bool(stdout) for stdout, _ in results) == [False, True]
    assert any("made by another process" in stderr for _, stderr in results)
    assert [path for path, _ in server.requests[before:]] == [f"/mirror/{UCF101.source_file}"]
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == sorted(
        [UCF101.source_file, UCF101.file_name]
    )

    fc6, prob = _outputs(cache / UCF101.file_name, clips)
    assert relative_error(fc6, reference.fc6) <= TOLERANCE
    assert relative_error(prob, reference.ucf_prob) <= TOLERANCE


def test_mmaction2_backbone_resumes_falls_back_checks_its_hash_and_gives_features(
    tmp_path, published, clips, reference, monkeypatch
):
    torch = pytest.importorskip("torch")
    from torch_files import mmaction2_state_dict

    import c3d
    from c3d.model.weights import WeightsFileError

    path = tmp_path / "published" / MMACTION2.source_file
    path.parent.mkdir()
    torch.save(mmaction2_state_dict(published.weights), path)
    size = path.stat().st_size
    cut = size // 3
    files = {f"/cut/{path.name}": path, f"/good/{path.name}": path}
    cache = tmp_path / "cache"
    monkeypatch.setenv("C3D_HOME", str(cache))
    monkeypatch.delenv("C3D_OFFLINE")
    with file_server(files, cut_after=[cut]) as server:
        monkeypatch.setenv("C3D_MIRRORS", server.url("/cut"))
        # the published sources: a dead one, then a good one; the fixture's own sha256
        # stands for mmaction2's dcc47ddc (which the fixture, of random weights, cannot have)
        preset = dataclasses.replace(
            MMACTION2,
            urls=(unused_port_url(f"/{path.name}"), server.url(f"/good/{path.name}")),
            sha256=sha256_file(path)[:8],
        )
        monkeypatch.setitem(presets.PRESETS, MMACTION2.name, preset)
        model = c3d.C3D_model(weights=MMACTION2.name)
    assert [(p.split("/")[1], r) for p, r in server.requests] == [
        ("cut", None),
        ("good", f"bytes={cut}-"),  # the part the mirror sent, resumed from another source
    ]
    assert (cache / MMACTION2.source_file).stat().st_size == size
    assert not (cache / f"{MMACTION2.source_file}{PART_SUFFIX}").exists()

    import keras

    fc6 = keras.Model(model.inputs, model.get_layer("fc6").output).predict_on_batch(clips)
    assert relative_error(fc6, reference.fc6) <= TOLERANCE
    with pytest.raises(WeightsFileError, match="the sports1m_mmaction2 weights have no fc8"):
        c3d.classify(REPO / "examples" / "v_BaseballPitch_g01_c01.avi", weights=MMACTION2.name)
