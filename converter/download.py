"""Downloading the C3D authors' Caffe model, resumable, size-checked, renamed when complete.

The bytes go to ``NAME.part`` next to the target; a later run resumes it with an HTTP
``Range`` request. Only a download whose size matches what the server announced
(``Content-Range`` total, else ``Content-Length``) is renamed to ``NAME``, so an
existing ``NAME`` is always a complete file.
"""

import contextlib
import http.client
import logging
import os
import re
import urllib.error
import urllib.request

from tqdm import tqdm

from c3d.errors import C3DError

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
CHUNK = 1 << 20
TIMEOUT_S = 30
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(C3DError):
    """A download that failed; the message says why (and whether a .part was kept)."""


def _expected_total(url, response, offset):
    """(start, total size) of the file from a 200/206 response, total None if unknown."""
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if not match:
            raise DownloadError(f"{url}: a partial answer without a Content-Range")
        start, end, total = int(match.group(1)), int(match.group(2)), match.group(3)
        if start != offset:
            raise DownloadError(f"{url}: asked for bytes from {offset}, got from {start}")
        return start, end + 1 if total == "*" else int(total)
    length = response.headers.get("Content-Length")
    return 0, int(length) if length is not None else None


def _open(url, offset):
    headers = {"User-Agent": "c3d-keras"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def download(url, target, progress=True):
    """Download ``url`` to ``target`` through ``target.part``, resuming that if present.

    Raises ``DownloadError`` (the .part kept for a later resume) on any failure.
    """
    target = os.fspath(target)
    part = target + PART_SUFFIX
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    try:
        response = _open(url, offset)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not offset:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        # 416: nothing after `offset`. A .part of exactly the file's size is complete
        # (the rename did not happen); a longer one is not this file.
        match = re.fullmatch(r"bytes \*/(\d+)", exc.headers.get("Content-Range", "").strip())
        if match and int(match.group(1)) == offset:
            os.replace(part, target)
            return target
        os.remove(part)
        log.info("%s: the partial download was longer than the file; starting over", part)
        return download(url, target, progress)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: {reason}") from None
    with contextlib.closing(response):
        if response.headers.get_content_type() == "text/html":
            raise DownloadError(f"{url}: the server sent a web page, not the model file")
        start, total = _expected_total(url, response, offset)
        if offset and start == 0:
            log.info("%s: the server does not resume downloads; starting over", url)
        mode = "ab" if start else "wb"
        size = start
        with (
            open(part, mode) as out,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=os.path.basename(target),
                disable=None if progress else True,
            ) as bar,
        ):
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise DownloadError(
                    f"{url}: connection lost after {size} bytes ({exc}); run again to resume {part}"
                ) from None
    if total is not None and size != total:
        raise DownloadError(f"{url}: got {size} of {total} bytes; run again to resume {part}")
    os.replace(part, target)
    return target


def fetch(target, urls, progress=True):
    """Make ``target`` exist: keep it if present, else download it from the first URL
    that works. Raises ``C3DError`` with what to download and where to put it."""
    target = os.fspath(target)
    if os.path.isfile(target):
        log.info("%s is already there", target)
        return target
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    failures = []
    for url in urls:
        log.info("downloading %s", url)
        try:
            return download(url, target, progress)
        except DownloadError as exc:
            log.debug("%s", exc)
            failures.append(str(exc))
    raise C3DError(
        f"{target}: could not download it ({'; '.join(failures)}). "
        f"Download it yourself from {' or '.join(urls)} and put it at {target} "
        "(or pass its path with --caffemodel, CAFFEMODEL= for make)"
    )
