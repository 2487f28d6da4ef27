"""Downloading published weights: resumable, size- and hash-checked, renamed when complete.

The bytes go to ``NAME.part`` next to the target; a later run resumes it with an HTTP
``Range`` request. Only a download whose size matches what the server announced
(``Content-Range`` total, else ``Content-Length``), and the published size and sha256
where they are known, is renamed to ``NAME``, so an existing ``NAME`` is always a
complete file. A web page (Dropbox's or Google Drive's "are you sure" page, a captive
portal) is refused, whatever its Content-Type says.
"""

import contextlib
import hashlib
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


def sha256_file(path, chunk=CHUNK):
    """The sha256 of a file's bytes, hex (~0.7 s for 320 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_published(path, size=None, sha256=None):
    """None if the file at ``path`` has the published ``size`` and ``sha256`` (or the start
    of it, as mmaction2 names its files); else why not, in a few words."""
    actual = os.path.getsize(path)
    if size is not None and actual != size:
        return f"{actual} bytes, not the {size} published"
    if sha256:
        digest = sha256_file(path)
        if not digest.startswith(sha256.lower()):
            return f"sha256 {digest[: max(len(sha256), 16)]}... is not the published {sha256}"
    return None


def _looks_like_a_web_page(head):
    start = head.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml"))


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


def download(url, target, progress=True, size=None, sha256=None):
    """Download ``url`` to ``target`` through ``target.part``, resuming that if present.

    ``size``, ``sha256``: what was published, checked before the rename; a file that
    differs is deleted. Raises ``DownloadError`` on any failure (the .part kept for a
    later resume when the connection was lost).
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
            return _keep(url, part, target, size, sha256)
        os.remove(part)
        log.info("%s: the partial download was longer than the file; starting over", part)
        return download(url, target, progress, size, sha256)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: {reason}") from None
    with contextlib.closing(response):
        if response.headers.get_content_type() == "text/html":
            raise DownloadError(f"{url}: the server sent a web page, not the model file")
        start, total = _expected_total(url, response, offset)
        if size is not None and total is not None and total != size:
            raise DownloadError(f"{url}: the server has {total} bytes, {size} were published")
        if offset and start == 0:
            log.info("%s: the server does not resume downloads; starting over", url)
        mode = "ab" if start else "wb"
        received = start
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
                    if received == 0 and _looks_like_a_web_page(chunk[:64]):
                        raise DownloadError(f"{url}: the server sent a web page, not the file")
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise DownloadError(
                    f"{url}: connection lost after {received} bytes ({exc}); "
                    f"run again to resume {part}"
                ) from None
            except DownloadError:
                out.close()
                os.remove(part)
                raise
    if total is not None and received != total:
        raise DownloadError(f"{url}: got {received} of {total} bytes; run again to resume {part}")
    return _keep(url, part, target, size, sha256)


def _keep(url, part, target, size, sha256):
    """Rename the complete ``part`` to ``target`` if it is the published file, else delete it."""
    wrong = check_published(part, size, sha256)
    if wrong is not None:
        os.remove(part)
        raise DownloadError(f"{url}: {wrong}; not kept")
    os.replace(part, target)
    return target


FETCH_WEIGHTS_HINT = "(or pass its path with --caffemodel, CAFFEMODEL= for make)"


def fetch(target, urls, progress=True, size=None, sha256=None, hint=FETCH_WEIGHTS_HINT):
    """Make ``target`` exist: keep it if present, else download it from the first URL
    that works. Raises ``C3DError`` with what to download and where to put it, ``hint``
    after that."""
    target = os.fspath(target)
    if os.path.isfile(target):
        log.info("%s is already there", target)
        return target
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    failures = []
    for url in urls:
        log.info("downloading %s", url)
        try:
            return download(url, target, progress, size, sha256)
        except DownloadError as exc:
            log.debug("%s", exc)
            failures.append(str(exc))
    raise C3DError(
        f"{target}: could not download it ({'; '.join(failures)}). "
        f"Download it yourself from {' or '.join(urls)} and put it at {target} {hint}"
    )
