"""The one streaming core: videos → decoded frames → clips → batches → model → per-video
results. Its stages are plain functions and small classes that know nothing of threads or
clusters; two schedulers run them: ``threads`` (decoders filling shared batches, in this
process) and ``c3d.extraction.engines.ray`` (Ray Data tasks and an actor pool).

- ``messages``: what flows between the stages (a clip's views, a video's end, results);
- ``settings``: ``StreamSettings``, the one object a scheduler takes;
- ``decoding``: a video (or a part of one) → clip messages, then exactly one end message;
- ``batching``: clip views → fixed-size uint8 batches → the model (padding; the mean in
  its graph, ``c3d.model.preprocessor``);
- ``assembly``: model rows of one video → its ``VideoResult``;
- ``threads``: the local scheduler, ``run_videos``.
"""
