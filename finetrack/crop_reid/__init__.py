"""A separate crop Re-ID network (torchreid OSNet-x0.25 or torchvision ResNet-18 on 256x128 crops), the
baseline beside the paper's ROI head: config schema (config.py), GT-box crops (data.py), network
(model.py), builder and trainer (build.py, trainer.py) and the tracker's embedder (embedder.py)."""
