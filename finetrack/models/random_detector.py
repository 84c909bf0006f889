"""Make a RANDOM-weight YOLOX detector give pixel-dependent boxes (tests and benchmarks only).

No weights can be downloaded here, and a randomly initialised detector finds nothing; the tests
and ``scripts/bench_track_source.py`` need boxes that depend on the image, so that a video, an
image folder and a MOT folder of the same frames can be compared.
"""
from __future__ import annotations

import numpy as np
import torch


def make_detector_respond(detector, images, boxes_per_image: int, gain: float = 4.0) -> None:
    """Give a RANDOM-weight YOLOX detector pixel-dependent boxes, about N per image (tests, bench).

    Random init makes the activations vanish layer by layer (objectness constant up to float
    noise). BatchNorm statistics are re-estimated on ``images`` so the signal survives, then each
    level's objectness logits are standardised and shifted so that the ``boxes_per_image``-th
    highest anchor scores 0.1 (the default threshold) and the top ones close to 1. Class
    probabilities are set to ~1 so that the score is the objectness.

    Args:
        detector: a :class:`finetrack.models.detector.YOLOXDetector` (modified in place).
        images: BGR uint8 (H, W, 3) frames to calibrate on.
        boxes_per_image: wanted anchors above the threshold per image (before NMS).
    """
    bns = [m for m in detector.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    detector.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration images
        m.train()
    tensors = [detector.preprocess(img)[0][None] for img in images]
    with torch.no_grad():
        for t in tensors:
            detector(t)
    for m in bns:
        m.eval()
    head = detector.model.head
    logits = {k: [] for k in range(len(head.obj_preds))}
    regs = {k: [] for k in range(len(head.reg_preds))}
    hooks = [c.register_forward_hook(lambda _m, _i, o, k=k: logits[k].append(o.detach().flatten()))
             for k, c in enumerate(head.obj_preds)]
    hooks += [c.register_forward_hook(lambda _m, _i, o, k=k: regs[k].append(o.detach()))
              for k, c in enumerate(head.reg_preds)]
    with torch.no_grad():
        for t in tensors:
            detector(t)
    for h in hooks:
        h.remove()
    with torch.no_grad():  # box offsets ~0.2 cells, size ~2 x 4 cells (person-like aspect)
        for k, c in enumerate(head.reg_preds):
            std = torch.cat([r.transpose(0, 1).flatten(1) for r in regs[k]], 1).std(1)
            c.weight.mul_((0.2 / std.clamp_min(1e-12)).view(-1, 1, 1, 1))
            c.bias.copy_(torch.tensor([0.0, 0.0, float(np.log(2.0)), float(np.log(4.0))]))
    stats = {k: (torch.cat(v).mean(), torch.cat(v).std().clamp_min(1e-12))
             for k, v in logits.items()}
    z = [torch.cat([(logits[k][i] - stats[k][0]) / stats[k][1] for k in logits])
         for i in range(len(tensors))]
    z_k = float(np.mean([float(torch.sort(zi, descending=True).values[boxes_per_image])
                         for zi in z]))
    with torch.no_grad():
        for k, c in enumerate(head.obj_preds):
            mean, std = stats[k]
            c.weight.mul_(gain / std)
            c.bias.copy_((c.bias - mean) * gain / std - gain * z_k - 2.2)
        for c in head.cls_preds:
            c.bias.fill_(8.0)
