"""Detector weights by name: the official YOLOX COCO models and ByteTrack's MOT models.

``--det-ckpt`` (and :func:`finetrack.load_detector`) take a path or one of :data:`ZOO`'s names:

- ``yolox-nano`` ... ``yolox-x``: YOLOX's COCO weights (80 classes), downloaded once with
  ``torch.hub.download_url_to_file`` (progress bar; written to a ``.partial`` file and renamed, so
  an interrupted download leaves nothing) into the torch hub cache ``$TORCH_HOME/hub/checkpoints``
  (``~/.cache/torch/hub/checkpoints``), the folder ``yolox``'s own ``create_yolox_model`` uses. The
  release addresses are ``yolox``'s (``yolox.models.build._CKPT_FULL_PATH``); the base address is
  replaced by the environment variable :data:`WEIGHTS_URL_ENV` or the config key
  ``model.weights_url`` (a mirror, or a ``file://`` folder offline).
- ``bytetrack_x_mot17`` ... : ByteTrack's one-class pedestrian detectors. They are published on
  Google Drive / Baidu (ByteTrack's README, :data:`BYTETRACK_README`), which no script can fetch:
  they are taken from the same cache folder (or given by path) and never downloaded.

This module only resolves names to files and describes what a file must hold; building and loading
the network is :func:`finetrack.inference.build.build_detector_from_config`'s job.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

#: Environment variable replacing the base address of the COCO weights (``<base>/<file name>``).
WEIGHTS_URL_ENV = "FINETRACK_WEIGHTS_URL"
#: Where ByteTrack's MOT weights are published (its "Model zoo" section).
BYTETRACK_README = "https://github.com/ifzhang/ByteTrack#model-zoo"
#: COCO class index of "person" (YOLOX's COCO_CLASSES[0]).
COCO_PERSON = 0
#: Classes of the COCO models (YOLOX's order, ``yolox.data.datasets.COCO_CLASSES``).
COCO_NUM_CLASSES = 80


@dataclass(frozen=True)
class ZooEntry:
    """One named detector.

    Attributes:
        name: the ``--det-ckpt`` name.
        variant: YOLOX variant (``nano`` ... ``x``).
        num_classes: 80 (COCO) or 1 (ByteTrack's pedestrian models).
        input_size: network input (H, W) the weights were trained/evaluated at.
        filename: file name in the cache folder.
        url: release address (None: not downloadable, see ``source``).
        source: where a person gets the file by hand (ByteTrack's models).
    """

    name: str
    variant: str
    num_classes: int
    input_size: Tuple[int, int]
    filename: str
    url: Optional[str] = None
    source: Optional[str] = None

    @property
    def downloadable(self) -> bool:
        return self.url is not None

    @property
    def default_classes(self) -> Optional[Tuple[int, ...]]:
        """Classes kept by default: COCO's person for the COCO models, all (None) otherwise."""
        return (COCO_PERSON,) if self.num_classes == COCO_NUM_CLASSES else None


def _coco_urls() -> Dict[str, str]:
    """``{"yolox-s": url, ...}`` from the installed yolox package (its own release addresses)."""
    from yolox.models.build import _CKPT_FULL_PATH

    return {k: v for k, v in _CKPT_FULL_PATH.items() if k.startswith("yolox-")}


def _build_zoo() -> Dict[str, ZooEntry]:
    zoo: Dict[str, ZooEntry] = {}
    for name, url in _coco_urls().items():
        variant = name[len("yolox-"):]
        size = (416, 416) if variant in ("nano", "tiny") else (640, 640)  # YOLOX's exps' test_size
        zoo[name] = ZooEntry(name, variant, COCO_NUM_CLASSES, size, url.rsplit("/", 1)[-1], url=url)
    # ByteTrack's exps/example/mot/*: yolox_{x,l,m}_mix_det at 800x1440, s/tiny/nano at 608x1088,
    # yolox_x_mix_mot20_ch at 896x1600
    for variant, size in (("x", (800, 1440)), ("l", (800, 1440)), ("m", (800, 1440)),
                          ("s", (608, 1088)), ("tiny", (608, 1088)), ("nano", (608, 1088))):
        name = f"bytetrack_{variant}_mot17"
        zoo[name] = ZooEntry(name, variant, 1, size, f"{name}.pth.tar", source=BYTETRACK_README)
    zoo["bytetrack_x_mot20"] = ZooEntry("bytetrack_x_mot20", "x", 1, (896, 1600),
                                        "bytetrack_x_mot20.tar", source=BYTETRACK_README)
    return zoo


_ZOO: Optional[Dict[str, ZooEntry]] = None


def zoo() -> Dict[str, ZooEntry]:
    """Every named detector, ``{name: ZooEntry}`` (built once; needs the yolox package)."""
    global _ZOO
    if _ZOO is None:
        _ZOO = _build_zoo()
    return _ZOO


def lookup(name_or_path: str) -> Optional[ZooEntry]:
    """The entry of a zoo name (``yolox-s``, ``yolox_s`` and ``YOLOX-S`` alike), or None for a
    path. An existing file of that name wins over the zoo."""
    s = str(name_or_path)
    if Path(s).exists() or os.sep in s or s.endswith((".pth", ".tar", ".pt", ".onnx")):
        return None
    key = s.lower()
    table = zoo()
    if key in table:
        return table[key]
    alt = key.replace("_", "-") if key.startswith("yolox_") else key
    return table.get(alt)


def cache_dir() -> Path:
    """The torch hub checkpoint folder (``$TORCH_HOME/hub/checkpoints``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_url(entry: ZooEntry, base_url: Optional[str] = None) -> str:
    """Where ``entry``'s file is downloaded from: ``<base>/<filename>`` when a base address is set
    (``base_url``, else :data:`WEIGHTS_URL_ENV`), else yolox's release address."""
    if not entry.downloadable:
        raise ValueError(f"{entry.name} is not downloadable (get it from {entry.source})")
    base = base_url or os.environ.get(WEIGHTS_URL_ENV) or None
    if base:
        return base.rstrip("/") + "/" + entry.filename
    return entry.url


def _missing_message(entry: ZooEntry, dest: Path) -> str:
    return (f"--det-ckpt {entry.name}: {dest} not found; ByteTrack's weights are not downloaded "
            f"automatically: get {entry.filename} from {entry.source} (Google Drive / Baidu) and "
            f"put it there, or give its path to --det-ckpt")


def fetch(entry: ZooEntry, base_url: Optional[str] = None, progress: bool = True) -> Path:
    """The local file of ``entry``: the cached one, else downloaded (COCO models only).

    Args:
        entry: a :func:`zoo` entry.
        base_url: base address replacing the release one (``model.weights_url``).
        progress: show torch.hub's download bar.

    Raises:
        FileNotFoundError: a ByteTrack model not in the cache (the message says where to get it).
        OSError: the download failed (the message names the address and the cache file).
    """
    import logging

    import torch.hub

    dest = cache_dir() / entry.filename
    if dest.is_file():
        return dest
    if not entry.downloadable:
        for other in (f"{entry.name}.pth.tar", f"{entry.name}.tar", f"{entry.name}.pth"):
            if (dest.parent / other).is_file():  # ByteTrack names its files both ways
                return dest.parent / other
        raise FileNotFoundError(_missing_message(entry, dest))
    url = weights_url(entry, base_url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger(__name__).info("downloading %s from %s to %s", entry.name, url, dest)
    try:
        torch.hub.download_url_to_file(url, str(dest), progress=progress)
    except (OSError, ValueError) as e:  # URLError is an OSError; ValueError: a malformed address
        reason = getattr(e, "reason", None) or e
        raise OSError(f"--det-ckpt {entry.name}: cannot download {url} ({reason}); set "
                      f"{WEIGHTS_URL_ENV} (or model.weights_url) to a mirror, or put "
                      f"{entry.filename} in {dest.parent}") from e
    return dest


def describe_state(state: Mapping) -> Dict[str, object]:
    """What a YOLOX state dict holds, from its tensor shapes: ``{"width", "variant",
    "num_classes"}`` (keys absent when the tensors are not there).

    The stem convolution has ``int(64 * width)`` outputs, the first class branch
    ``num_classes`` (YOLOX's ``Focus`` stem and ``YOLOXHead.cls_preds``).
    """
    from finetrack.models.detector import YOLOX_VARIANTS

    out: Dict[str, object] = {}
    for k, v in state.items():
        if k.endswith("backbone.backbone.stem.conv.conv.weight") and hasattr(v, "shape"):
            out["width"] = int(v.shape[0]) / 64.0
        elif k.endswith("head.cls_preds.0.weight") and hasattr(v, "shape"):
            out["num_classes"] = int(v.shape[0])
    if "width" in out:
        names = [n for n, (_, w) in YOLOX_VARIANTS.items() if abs(w - out["width"]) < 1e-6]
        if names:
            out["variant"] = names[0] if len(names) == 1 else "/".join(names)
    return out


def architecture_error(label: str, path, entry: ZooEntry, state: Mapping) -> str:
    """One line saying what ``path`` holds when it does not fit ``entry``."""
    got = describe_state(state)
    if not got:
        holds = "no YOLOX weights"
    else:
        holds = (f"YOLOX-{got.get('variant', '?')} (width {got.get('width', '?')}) with "
                 f"{got.get('num_classes', '?')} classes")
    return (f"--det-ckpt {label}: {path} holds {holds}, not the YOLOX-{entry.variant} with "
            f"{entry.num_classes} classes that {entry.name} is")
