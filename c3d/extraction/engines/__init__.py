"""``c3d extract``'s two engines behind one interface: ``engine.run(videos, writer, report)``.

Both schedule the same core (``c3d.pipeline``: decoding → clips → batches → model →
assembly) and hand each finished video to the same ``Delivery`` (claims, writing, the
failure policy), so every option gives the same files on either engine:

- ``LocalEngine`` (``local.py``): decoder and batcher threads in this process;
- ``RayEngine`` (``ray.py``): Ray Data decoding tasks, a pool of model replicas, assembly
  tasks; on a Ray cluster.
"""

from c3d.extraction.engines.delivery import Delivery, ExtractionJob
from c3d.extraction.engines.model import FeatureModel, ModelSpec

__all__ = ["Delivery", "ExtractionJob", "FeatureModel", "ModelSpec", "make_engine"]

ENGINES = ("local", "ray")


def make_engine(name, job, **options):
    """The engine called ``name`` for ``job``: ``local`` takes ``decoders`` and
    ``gpu_decode``; ``ray`` takes ``address``, ``replicas`` and ``gpus_per_replica``."""
    if name == "ray":
        from c3d.extraction.engines.ray import RayEngine

        return RayEngine(job, **options)
    from c3d.extraction.engines.local import LocalEngine

    return LocalEngine(job, **options)
