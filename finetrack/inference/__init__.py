"""Tracking inference: detection sources, the per-sequence runner, submissions and videos.

Torch is imported only by the parts that run a model (:mod:`.embedder`, the YOLOX source).
"""
