"""Outputs in the layouts published methods read: ``c3d extract --preset NAME``.

Each layout fixes what the method's authors extracted (layer, stride, crops) and writes the
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

from c3d.errors import C3DError

PCA_DIMS = 500  # ActivityNet's and THUMOS14's C3D features: fc7 reduced to 500 dimensions


@dataclasses.dataclass(frozen=True)
class Layout:
    """An output layout a published method reads (``--preset NAME``: not to be confused
    with the weights presets of ``c3d.model.presets``), and the settings it fixes."""

    name: str
    layer: str
    stride: int
    crops: int
    needs_pca: bool = False
    summary: str = ""

    def resolve(self, layer=None, stride=None, crops=None, output_format=None, pca=None):
        """The layout's (layer, stride, crops), refusing given options that contradict it."""
        option = f"--preset {self.name}"
        for flag, given, wanted in (
            ("--layer", layer, self.layer),
            ("--stride", stride, self.stride),
            ("--crops", crops, self.crops),
        ):
            if given is not None and given != wanted:
                raise C3DError(
                    f"{option} takes {flag} {wanted}, as its authors' pipeline did. "
                    f"Received: {flag} {given}"
                )
        if output_format is not None:
            raise C3DError(f"{option} writes its own layout. Received: --format {output_format}")
        if self.needs_pca and pca is None:
            raise C3DError(
                f"{option} projects fc7 to 500 dimensions: give --pca FILE (ActivityNet's "
                "PCA_activitynet_v1-3.hdf5, or one made by `c3d pca fit`)"
            )
        if not self.needs_pca and pca is not None:
            raise C3DError(f"--pca is for --preset activitynet. Received: {option} --pca {pca}")
        return self.layer, self.stride, self.crops


LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout("sultani", "fc6", 16, 1, summary="UCF-Crime 32 segments (<stem>_C.txt)"),
        Layout("rtfm", "fc6", 16, 10, summary="RTFM ten crops (<stem>_c3d.npy, rtfm.list)"),
        Layout(
            "activitynet",
            "fc7",
            8,
            1,
            needs_pca=True,
            summary="ActivityNet/THUMOS PCA-500 (one .h5 of v_<id>/c3d_features)",
        ),
    )
}


def make_writer(layout, output, pca=None, overwrite=False):
    """The writer of ``layout`` (a name) into ``output`` (``pca``: a read PCA, activitynet;
    ``overwrite``: the run redoes videos, so an HDF5 index may drop links to lost shards)."""
    if layout == "sultani":
        from c3d.extraction.layouts.sultani import SultaniWriter

        return SultaniWriter(output)
    if layout == "rtfm":
        from c3d.extraction.layouts.rtfm import RtfmWriter

        return RtfmWriter(output)
    if layout == "activitynet":
        from c3d.extraction.layouts.activitynet import ActivityNetWriter

        return ActivityNetWriter(output, pca, overwrite=overwrite)
    raise ValueError(f"unknown layout. Received: {layout!r}")


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
