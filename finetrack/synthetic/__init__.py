"""Synthetic MOTChallenge sequences: the generator (config, motion, appearance, scene, detector
noise, rendering, statistics; :mod:`finetrack.synthetic.generate` is the entry point) and the
synthetic GT/result sets of the evaluator tests (:mod:`finetrack.synthetic.eval_sets`) and a
crowd of detections without images for the tracker's tests and benchmarks
(:mod:`finetrack.synthetic.crowd`)."""
