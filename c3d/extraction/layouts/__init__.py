"""Outputs in the layouts published methods read: ``c3d extract --preset NAME``.

Each preset fixes what the method's authors extracted (layer, stride, crops) and writes the
files their code reads, through the writer interface of ``c3d.extraction.writers``, so
extraction stays resumable, shared between processes and recorded like any other:

- ``sultani`` (``sultani.py``): UCF-Crime, Sultani et al. CVPR 2018: 32 segments a video
  in ``<stem>_C.txt``;
- ``rtfm`` (``rtfm.py``): RTFM, MGFN and other weakly-supervised anomaly detectors:
  ten-crop clip features in ``<stem>_c3d.npy`` and a list of them;
- ``activitynet`` (``activitynet.py``): ActivityNet Captions / THUMOS14 codes: fc7 every 8
  frames projected to 500 dimensions, one HDF5 file of ``v_<id>/c3d_features``.

Files that cannot hold their settings (the txt, the npy) have them in a sidecar folder
beside OUT, ``OUT.c3d/`` (``files.py``), never inside OUT: Sultani's training code lists
OUT's folders and would take a hidden one for a class.
"""

import dataclasses

PCA_DIMS = 500  # ActivityNet's and THUMOS14's C3D features: fc7 reduced to 500 dimensions


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    layer: str
    stride: int
    crops: int
    needs_pca: bool = False
    summary: str = ""


PRESETS = {
    preset.name: preset
    for preset in (
        Preset("sultani", "fc6", 16, 1, summary="UCF-Crime 32 segments (<stem>_C.txt)"),
        Preset("rtfm", "fc6", 16, 10, summary="RTFM ten crops (<stem>_c3d.npy, rtfm.list)"),
        Preset(
            "activitynet",
            "fc7",
            8,
            1,
            needs_pca=True,
            summary="ActivityNet/THUMOS PCA-500 (one .h5 of v_<id>/c3d_features)",
        ),
    )
}


def make_writer(preset, output, pca=None, overwrite=False):
    """The writer of ``preset``'s layout into ``output`` (``pca``: a read PCA, activitynet;
    ``overwrite``: the run redoes videos, so an HDF5 index may drop links to lost shards)."""
    if preset == "sultani":
        from c3d.extraction.layouts.sultani import SultaniWriter

        return SultaniWriter(output)
    if preset == "rtfm":
        from c3d.extraction.layouts.rtfm import RtfmWriter

        return RtfmWriter(output)
    if preset == "activitynet":
        from c3d.extraction.layouts.activitynet import ActivityNetWriter

        return ActivityNetWriter(output, pca, overwrite=overwrite)
    raise ValueError(f"unknown preset. Received: {preset!r}")


def video_facts(key, arrays):
    """What a layout records of one video beside its settings (JSON-ready)."""
    facts = {
        "key": key,
        "clips": int(len(arrays["clips"])),
        "n_frames": int(arrays["n_frames"]),
        "fps": float(arrays["fps"]),
        "padded": bool(arrays["padded"]),
    }
    if "source_fps" in arrays:
        facts["source_fps"] = float(arrays["source_fps"])
    return facts


def stem(key):
    """A key's file name without its extension: ``a/Abuse001_x264.mp4`` → ``Abuse001_x264``."""
    name = key.rsplit("/", 1)[-1]
    base, dot, _ = name.rpartition(".")
    return base if dot and base else name
