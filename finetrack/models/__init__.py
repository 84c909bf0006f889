"""Models: YOLOX detector wrapper (the only yolox import), the ImageNet MobileNetV2 backbone,
ROIAlign, FAFPN, MPMG, Re-ID head."""
from finetrack.models.build import BACKBONES, REID_HEADS, build_model, build_reid_head
from finetrack.models.detector import (
    YOLOX_VARIANTS,
    CheckpointMismatchError,
    YOLOXDetector,
    build_detector,
    save_checkpoint,
)
from finetrack.models.imagenet_backbone import ImageNetBackbone
from finetrack.models.fafpn import FAFPN, NECKS, RBFPN, FlowAlignModule, PlainFPN, ResBlock
from finetrack.models.mpmg import MPMG, PartMaskGenerator, center_pool, gap_pool, masked_pool
from finetrack.models.reid_head import POOLINGS, FineTrackModel, ReIDHead
from finetrack.models.roi import MultiLevelRoIAlign

__all__ = [
    "BACKBONES",
    "ImageNetBackbone",
    "FAFPN",
    "MPMG",
    "NECKS",
    "POOLINGS",
    "REID_HEADS",
    "YOLOX_VARIANTS",
    "CheckpointMismatchError",
    "FineTrackModel",
    "FlowAlignModule",
    "MultiLevelRoIAlign",
    "PartMaskGenerator",
    "PlainFPN",
    "RBFPN",
    "ReIDHead",
    "ResBlock",
    "YOLOXDetector",
    "build_detector",
    "build_model",
    "build_reid_head",
    "center_pool",
    "gap_pool",
    "masked_pool",
    "save_checkpoint",
]
