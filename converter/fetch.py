"""A preset's weights on first use: its published file fetched, checked and converted, once.

``fetch_preset`` makes ``cache_dir()/<preset file_name>`` exist. Under a lock on the
cache folder (``c3d.atomic.locked``), so that two processes asking at once end up with
one good file (the second waits, then finds it): the published file is downloaded next
to it (``$C3D_MIRRORS`` first, then the published sources; resumed if a ``.part`` is
there; its size and sha256 checked where published), then converted (``converter.convert``)
and checked to be what the preset says (fc8's classes). The published file stays in the
cache: the converted one can be made again from it, offline, and its sha256 checked.

``$C3D_OFFLINE=1`` (``allow_download=False``) converts a published file already in the
cache and otherwise says, in one line, where to put it.
"""

import logging
import os

from c3d.atomic import locked
from c3d.errors import C3DError
from c3d.model.presets import (
    MIRRORS_ENV,
    OFFLINE_ENV,
    PRESETS,
    cache_dir,
    others,
    sources,
)
from converter.download import check_published, fetch

log = logging.getLogger(__name__)


def _lock_name(preset):
    return f".{preset.file_name}.lock"


def fetch_preset(
    preset,
    folder=None,
    allow_download=True,
    urls=None,
    source=None,
    progress=True,
    report=None,
):
    """The converted weights of ``preset`` (a ``Preset`` or its name) in ``folder``.

    ``folder``: default the cache (``$C3D_HOME``, else ``~/.keras/models``). ``urls``:
    sources instead of the mirrors and published ones. ``source``: a copy of the
    published file to convert instead of downloading it (checked like a download).
    ``report``: called with the ``Conversion`` when one was made.
    """
    preset = PRESETS[preset] if isinstance(preset, str) else preset
    folder = cache_dir() if folder is None else os.fspath(folder)
    out = os.path.join(folder, preset.file_name)
    if os.path.isfile(out):
        return out
    if source is not None and not os.path.isfile(source):
        raise C3DError(f"{source}: no such file")
    check_cache_writable(folder)  # before a 320 MB download, not after it
    with locked(folder, _lock_name(preset)):
        if os.path.isfile(out):  # made by another process while this one waited
            log.info("%s: made by another process", out)
            return out
        if source is None:
            source = _published_file(preset, folder, allow_download, urls, progress)
        else:
            _check(preset, source)
        conversion = _convert(preset, source, out)
    if report is not None:
        report(conversion)
    return out


def check_cache_writable(folder):
    """Refuse a weights folder that cannot be written, in one line saying what to do."""
    from c3d.atomic import check_folder_writable
    from c3d.model.presets import CACHE_ENV

    try:
        check_folder_writable(folder, "the weights")
    except C3DError as exc:
        raise C3DError(
            f"{exc}: set ${CACHE_ENV} to a folder you can write (fetch-weights: or pass "
            "--models-dir)"
        ) from None


def _published_file(preset, folder, allow_download, urls, progress):
    """The published file in ``folder``, downloaded if it is not there yet."""
    target = os.path.join(folder, preset.source_file)
    if os.path.isfile(target):  # put there by hand, or by a run killed while converting
        _check(preset, target)
        return target
    if not allow_download:
        raise C3DError(
            f"{os.path.join(folder, preset.file_name)}: no such weights file, and "
            f"{OFFLINE_ENV}=1 keeps c3d from downloading it: put {preset.source_file} "
            f"(published at {preset.urls[0]}) in {folder}, where it is converted on first "
            f"use, or get them with `{preset.how_to_get}` where there is a network"
        )
    log.info("fetching the %s weights (%s) into %s", preset.name, preset.source_file, folder)
    alternatives = ", ".join(others(preset.name))
    return fetch(
        target,
        urls or sources(preset),
        progress=progress,
        size=preset.size,
        sha256=preset.sha256,
        hint=f"(or list a mirror that has it in {MIRRORS_ENV}, or give the file to "
        f"`c3d fetch-weights {preset.name} --caffemodel PATH`; other weights by name: "
        f"{alternatives})",
    )


def _check(preset, source):
    """Refuse a file that is not the one published (size, sha256): a download is checked
    before it is kept; this is for a file that came another way."""
    wrong = check_published(source, preset.size, preset.sha256)
    if wrong is not None:
        raise C3DError(
            f"{source}: not the file published as the {preset.name} weights ({wrong}); "
            "remove it and fetch again"
        )


def _convert(preset, source, out):
    """Convert ``source`` to ``out``, and refuse a result with another head than published."""
    from converter.convert import convert_weights

    log.info("converting %s to %s", source, out)
    conversion = convert_weights(source, out)
    if conversion.num_classes != preset.num_classes:
        os.remove(out)
        found = "no fc8" if conversion.num_classes is None else f"{conversion.num_classes}-way fc8"
        wanted = "no fc8" if preset.num_classes is None else f"a {preset.num_classes}-way fc8"
        raise C3DError(
            f"{source}: has {found}; the {preset.name} weights have {wanted}: not the file "
            "published under that name"
        )
    log.info("%s: the %s weights, ready", out, preset.name)
    return conversion
