"""The FairMOT one-shot baseline in one folder: config schema (config.py), DLA-34 backbone (dla.py),
network (model.py), heatmap/size/offset/id targets (targets.py), dataset (dataset.py), losses (loss.py),
builders (build.py) and trainer (trainer.py)."""
