"""Downloading the Caffe model: resume, size check, atomic rename, failure message.

Against a local HTTP server on 127.0.0.1 (``converter_helpers.file_server``), which the
tests start and stop themselves.
"""

import os

import numpy as np
import pytest
from converter_helpers import (
    assert_one_line_error,
    file_server,
    no_output_left,
    run_c3d,
    unused_port_url,
)

from c3d.errors import C3DError
from c3d.model.presets import SPORTS1M
from converter.download import PART_SUFFIX, DownloadError, download, fetch

SIZE = 300_000


@pytest.fixture()
def payload(tmp_path):
    path = tmp_path / "served.bin"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, SIZE, np.uint8).tobytes())
    return path


def test_download_writes_the_file_and_leaves_no_part(tmp_path, payload):
    target = tmp_path / "models" / "model"
    target.parent.mkdir()
    with file_server({"/m": payload}) as server:
        download(server.url("/m"), target, progress=False)
    assert target.read_bytes() == payload.read_bytes()
    assert not os.path.exists(f"{target}{PART_SUFFIX}")
    assert server.requests == [("/m", None)]


def test_lost_connection_keeps_the_part_and_the_next_run_resumes(tmp_path, payload):
    target = tmp_path / "model"
    part = f"{target}{PART_SUFFIX}"
    with file_server({"/m": payload}, cut_after=[100_000]) as server:
        with pytest.raises(DownloadError, match=f"got 100000 of {SIZE} bytes; run again to resume"):
            download(server.url("/m"), target, progress=False)
        assert not target.exists()  # never renamed while incomplete
        assert os.path.getsize(part) == 100_000
        download(server.url("/m"), target, progress=False)
    assert server.requests[1] == ("/m", "bytes=100000-")
    assert target.read_bytes() == payload.read_bytes()
    assert not os.path.exists(part)


def test_a_server_that_ignores_range_gets_a_fresh_download(tmp_path, payload):
    target = tmp_path / "model"
    with open(f"{target}{PART_SUFFIX}", "wb") as part:
        part.write(b"x" * 5000)  # not the start of the file: must not be kept
    with file_server({"/m": payload}, ignore_range=True) as server:
        download(server.url("/m"), target, progress=False)
    assert server.requests == [("/m", "bytes=5000-")]
    assert target.read_bytes() == payload.read_bytes()


def test_a_part_longer_than_the_file_starts_over(tmp_path, payload):
    target = tmp_path / "model"
    with open(f"{target}{PART_SUFFIX}", "wb") as part:
        part.write(b"x" * (SIZE + 10))
    with file_server({"/m": payload}) as server:
        download(server.url("/m"), target, progress=False)
    assert [r[1] for r in server.requests] == [f"bytes={SIZE + 10}-", None]
    assert target.read_bytes() == payload.read_bytes()


def test_a_complete_part_is_renamed_without_downloading_again(tmp_path, payload):
    target = tmp_path / "model"
    with open(f"{target}{PART_SUFFIX}", "wb") as part:
        part.write(payload.read_bytes())  # complete, but the rename never happened
    with file_server({"/m": payload}) as server:
        download(server.url("/m"), target, progress=False)
    assert server.requests == [("/m", f"bytes={SIZE}-")]
    assert target.read_bytes() == payload.read_bytes()
    assert not os.path.exists(f"{target}{PART_SUFFIX}")


def test_a_web_page_is_not_taken_for_the_model(tmp_path, payload):
    target = tmp_path / "model"
    with file_server({"/m": payload}, content_type="text/html") as server:
        with pytest.raises(DownloadError, match="sent a web page"):
            download(server.url("/m"), target, progress=False)
    assert not target.exists()


def test_fetch_falls_back_to_the_next_url_and_keeps_a_complete_file(tmp_path, payload):
    target = tmp_path / "models" / "model"
    with file_server({"/m": payload}) as server:
        fetch(target, [server.url("/missing"), server.url("/m")], progress=False)
        assert target.read_bytes() == payload.read_bytes()
        fetch(target, [server.url("/m")], progress=False)  # already there: no request
    assert [r[0] for r in server.requests] == ["/missing", "/m"]


def test_fetch_failure_says_what_to_download_and_where(tmp_path):
    target = tmp_path / "model"
    url = unused_port_url()
    with pytest.raises(C3DError) as caught:
        fetch(target, [url], progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{target}: could not download it" in message
    assert f"Download it yourself from {url} and put it at {target}" in message


def test_fetch_weights_offline_fails_with_one_clear_line(tmp_path):
    models = tmp_path / "models"
    url = unused_port_url("/conv3d")
    result = run_c3d("fetch-weights", "--models-dir", models, "--url", url)
    assert_one_line_error(
        result,
        os.path.join(models, SPORTS1M.source_file),
        f"Download it yourself from {url}",
        "--caffemodel",
    )
    assert no_output_left(models, SPORTS1M.file_name)
    assert no_output_left(models, SPORTS1M.source_file)


def test_fetch_weights_with_a_missing_caffemodel(tmp_path):
    result = run_c3d("fetch-weights", "--models-dir", tmp_path, "--caffemodel", tmp_path / "nope")
    assert_one_line_error(result, tmp_path / "nope", "no such file")
    assert os.listdir(tmp_path) == []
