#!/usr/bin/env python
"""The paper's configuration exercised end to end (issue 13 item 7): exit 0 when every step passed.

Steps, each a subprocess of the project's own commands so the check runs exactly what a user runs:

1. ``checkpoint``: a ByteTrack-format YOLOX-X checkpoint (``{"model": state_dict}``, 1 class, the
   layout of ``bytetrack_x_mot17.pth.tar``) built from random weights (nothing is downloaded),
   calibrated to give about ``--boxes`` boxes per frame (finetrack/models/random_detector.py).
2. ``train``: ``tools/train_reid.py -c configs/mot17_half_finetrack.yaml`` at 800x1440 (the config's
   ``model.input_size``) for ``--iters`` iterations on real MOT17 frames: MOT17-mini's seven clips
   and MOT17-09-FRCNN (1080p, 9-column gt), linked (never copied) into a temporary MOT17 layout.
   Validation is capped at ``--val-frames`` frames per sequence.
3. ``track``: ``tools/track.py --det yolox`` with that detector and Re-ID checkpoint, ``--mode
   finetrack``, at 800x1440, on the first ``--frames`` frames of MOT17-09-FRCNN.
4. ``submission``: the same model on a MOT17 *test*-layout copy (the seven test names MOT17-01 ...
   MOT17-14, no gt, frames linked from MOT17-mini), ``--submission mot17``: the 21 files and the
   zip are checked.

For every step: wall seconds and the child's peak resident memory (``wait4`` rusage); for the
training step also seconds per iteration (the run's ``metrics.json``). The report is printed and
written to ``<out>/paper_scale_check.json``. With a GPU: ``--device cuda`` (the config's AMP on).

    python scripts/paper_scale_check.py --out outputs/paper_scale_check        # CPU: ~10-20 min
    python scripts/paper_scale_check.py --out outputs/paper_scale_gpu --device cuda

Needs ``../shared/data`` (MOT17-mini and MOT17/train/MOT17-09-FRCNN); exits 2 naming what is
missing otherwise. ``tests/engine/test_paper_scale_check.py`` (slow) runs it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "mot17_half_finetrack.yaml"
TEST_NAMES = ("01", "03", "06", "07", "08", "12", "14")


def shared_data() -> Path:
    return ROOT.parent / "shared" / "data"


def run_step(name: str, cmd: List[str], log_dir: Path, env: Dict[str, str]) -> Dict[str, Any]:
    """Run ``cmd``; return seconds, peak RSS (MiB) and exit code. stdout+stderr -> <log_dir>/<name>.log."""
    log = log_dir / f"{name}.log"
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    # ru_maxrss is KiB on Linux
    rec = {"step": name, "rc": proc.returncode, "seconds": round(seconds, 1),
           "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "log": str(log)}
    status_word = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    print(f"[{name}] {status_word}: {rec['seconds']} s, peak RSS {rec['peak_rss_mib']} MiB; log {log}",
          flush=True)
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-15:]
        print("\n".join("    " + line for line in tail), flush=True)
    return rec


def write_random_bytetrack_x(path: Path, seed: int, frames: List[Path], boxes: int) -> Dict[str, Any]:
    """ByteTrack's YOLOX-X (depth 1.33, width 1.25, 1 class) with random weights, as ``{"model": sd}``.

    Random init scores every anchor alike (about 0.25 = sigmoid(0)^2 above the 0.1 threshold, i.e.
    thousands of boxes per 800x1440 frame, which is no test of anything); the weights are
    calibrated with :func:`finetrack.models.random_detector.make_detector_respond` on ``frames`` so
    that about ``boxes`` anchors per frame pass, placed by the image content.
    """
    import cv2
    import torch

    from finetrack.models.detector import YOLOXDetector
    from finetrack.models.random_detector import make_detector_respond
    from finetrack.utils.checkpoint import write_checkpoint

    torch.manual_seed(seed)
    det = YOLOXDetector(depth=1.33, width=1.25, num_classes=1, input_size=(800, 1440))
    make_detector_respond(det, [cv2.imread(str(p)) for p in frames], boxes)
    state = {k: v.detach().cpu() for k, v in det.model.state_dict().items()}
    write_checkpoint(path, {"start_epoch": 0, "model": state})  # ByteTrack's file format (an input here)
    n = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    return {"params_m": round(n / 1e6, 2), "bytes": path.stat().st_size, "calibrated_boxes_per_frame": boxes}


def link_sequence(src: Path, dst: Path, frames: int = 0, with_gt: bool = True) -> None:
    """A MOT sequence folder of symlinks (img1 frames, det, gt, seqinfo.ini); ``frames`` > 0 keeps the first N."""
    dst.mkdir(parents=True)
    (dst / "img1").mkdir()
    imgs = sorted((src / "img1").glob("*.jpg"))
    if frames > 0:
        imgs = imgs[:frames]
    for p in imgs:
        (dst / "img1" / p.name).symlink_to(p)
    (dst / "det").mkdir()
    (dst / "det" / "det.txt").symlink_to(src / "det" / "det.txt")
    if with_gt:
        (dst / "gt").mkdir()
        (dst / "gt" / "gt.txt").symlink_to(src / "gt" / "gt.txt")
    ini = (src / "seqinfo.ini").read_text()
    if frames > 0 or not with_gt:
        lines = []
        for line in ini.splitlines():
            if line.strip().lower().startswith("seqlength"):
                line = f"seqLength={len(imgs)}"
            elif line.strip().lower().startswith("name="):
                line = f"name={dst.name}"
            lines.append(line)
        ini = "\n".join(lines) + "\n"
        (dst / "seqinfo.ini").write_text(ini)
    else:
        (dst / "seqinfo.ini").symlink_to(src / "seqinfo.ini")


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="report folder (replaced with --overwrite)")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--iters", type=int, default=2, help="training iterations (default 2)")
    ap.add_argument("--batch", type=int, default=None,
                    help="frames per batch (default: the config's train.batch_size)")
    ap.add_argument("--frames", type=int, default=3, help="frames tracked per sequence (default 3)")
    ap.add_argument("--val-frames", type=int, default=2, help="validation frames per sequence (default 2)")
    ap.add_argument("--boxes", type=int, default=30,
                    help="boxes per frame the random detector is calibrated to give (default 30)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    data = shared_data()
    mini, m09 = data / "MOT17-mini" / "train", data / "MOT17" / "train" / "MOT17-09-FRCNN"
    for p in (mini, m09):
        if not p.is_dir():
            print(f"paper_scale_check: {p} is missing (see ../shared/data/README.md)", file=sys.stderr)
            return 2
    out = Path(args.out).resolve()
    if out.exists() and any(out.iterdir()):
        if not args.overwrite:
            print(f"paper_scale_check: {out} is not empty (use --overwrite)", file=sys.stderr)
            return 2
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    py = sys.executable
    steps: List[Dict[str, Any]] = []
    report: Dict[str, Any] = {"device": args.device, "config": str(CONFIG.relative_to(ROOT)),
                              "input_size": [800, 1440], "iters": args.iters, "steps": steps}
    with tempfile.TemporaryDirectory(prefix="paper_scale_") as tmp_s:
        tmp = Path(tmp_s)
        # 1. the ByteTrack-format checkpoint
        ckpt = tmp / "bytetrack_x_random.pth.tar"
        t0 = time.perf_counter()
        info = write_random_bytetrack_x(ckpt, args.seed, sorted((m09 / "img1").glob("*.jpg"))[:2], args.boxes)
        steps.append({"step": "checkpoint", "rc": 0, "seconds": round(time.perf_counter() - t0, 1), **info})
        print(f"[checkpoint] ok: YOLOX-X {info['params_m']} M parameters, random weights", flush=True)

        # the MOT17 train layout: MOT17-mini's clips + MOT17-09-FRCNN (links)
        root = tmp / "MOT17"
        for seq in sorted(p for p in mini.iterdir() if p.is_dir() and p.name != "MOT17-09-FRCNN"):
            link_sequence(seq, root / "train" / seq.name)
        link_sequence(m09, root / "train" / m09.name)
        # the test layout: seven test names, frames from MOT17-mini, no gt
        minis = sorted(p for p in mini.iterdir() if p.is_dir())
        for name, src in zip(TEST_NAMES, minis):
            link_sequence(src, root / "test" / f"MOT17-{name}-FRCNN", frames=args.frames, with_gt=False)

        # 2. training at 800x1440
        run_dir = out / "reid_run"
        overrides = [
            f"model.det_ckpt={ckpt}", f"data.root={root}", "data.num_workers=0",
            "train.epochs=1", f"train.max_iters_per_epoch={args.iters}", f"train.device={args.device}",
            "train.log_every=1", f"reid_eval.max_frames={args.val_frames}",
            # a smoke run: nothing to select between, and 2 validation frames need the v1 window
            "reid_eval.select_on=final_epoch", "reid_eval.exclude_seconds=0", "reid_eval.query_every=1",
        ]
        if args.batch:
            overrides.append(f"train.batch_size={args.batch}")
        steps.append(run_step("train", [py, "tools/train_reid.py", "-c", str(CONFIG), "--no-progress",
                                        f"out_dir={run_dir}", *overrides], out, env))
        if steps[-1]["rc"] == 0:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            train_s = sum(h.get("train_seconds", 0.0) for h in metrics.get("history", []))
            steps[-1]["train_seconds"] = round(train_s, 1)
            steps[-1]["seconds_per_iter"] = round(train_s / max(args.iters, 1), 1)
            steps[-1]["final"] = metrics.get("final")
            best = run_dir / "best.pth"

            # 3. a few frames of MOT17-09 tracked at 800x1440
            frames_dir = tmp / "m09_frames"
            link_sequence(m09, frames_dir / "MOT17-09-FRCNN", frames=args.frames)
            track_out = out / "track"
            steps.append(run_step("track", [
                py, "tools/track.py", "-c", str(CONFIG), "--source", str(frames_dir / "MOT17-09-FRCNN"),
                "--det", "yolox", "--det-ckpt", str(ckpt), "--reid-ckpt", str(best), "--mode", "finetrack",
                "--out", str(track_out), "--no-progress", "--device", args.device], out, env))
            if steps[-1]["rc"] == 0:
                summ = json.loads((track_out / "track_summary.json").read_text())
                steps[-1]["timing"] = summ.get("timing")
                steps[-1]["frames"] = summ.get("frames")

            # 4. the MOT17 test-layout submission
            sub_out = out / "submission_run"
            steps.append(run_step("submission", [
                py, "tools/track.py", "-c", str(CONFIG), "--data-root", str(root), "--split", "test",
                "--det", "yolox", "--det-ckpt", str(ckpt), "--reid-ckpt", str(best), "--mode", "finetrack",
                "--submission", "mot17", "--out", str(sub_out), "--no-progress", "--device", args.device],
                out, env))
            if steps[-1]["rc"] == 0:
                zpath = sub_out / "submission" / "MOT17-test.zip"
                names = zipfile.ZipFile(zpath).namelist() if zpath.is_file() else []
                steps[-1]["zip_files"] = len(names)
                if len(names) != 21:
                    steps[-1]["rc"] = 1
                    print(f"[submission] FAILED: {zpath} holds {len(names)} files, expected 21", flush=True)

    ok = all(s["rc"] == 0 for s in steps) and len(steps) == 4
    report["passed"] = ok
    report["peak_rss_mib"] = max((s.get("peak_rss_mib", 0.0) for s in steps), default=0.0)
    tmp_report = out / "paper_scale_check.json.partial"
    tmp_report.write_text(json.dumps(report, indent=2) + "\n")
    tmp_report.replace(out / "paper_scale_check.json")
    print(json.dumps(report, indent=2))
    print(f"paper_scale_check: {'PASSED' if ok else 'FAILED'}; report {out / 'paper_scale_check.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
