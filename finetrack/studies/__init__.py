"""The project's studies: the code behind the commands in scripts/ and the results in docs/experiments/.

Each module has a ``main(argv=None) -> int`` that its thin ``scripts/<name>.py`` calls (also
``python -m finetrack.studies.<name>``); the shared parts are imported by the others and by the tests.

Cross-scene protocol (docs/experiments/cross_scene*.md):
    cross_scene          model specs, training of study models, cached frames, tracking and scoring,
                         adaptation; the other cross-scene studies import it
    robust_grid          grid over tracker settings on every cached row (and the shuffled control)
    frame_rate_stress    the cached rows at 1/k of their frame rate
    identity_separation  d' of a model's features per sequence (the robust mode's calibrations)
    decision_audit       an association mode's decisions labelled against the ground truth
    cmc_modes            camera motion compensation in every association mode
    link_scenes          one dataset root of symlinks to every labelled scene
    peers_boxmot         boxmot's BoT-SORT and Deep OC-SORT on the same caches (bench venv; imports
                         no other finetrack module)
    parity_boxmot        our ``byte`` mode against boxmot's ByteTrack on identical detections

Re-ID studies (the paper's tables):
    run_reid_ablations   Tables 3-5 (sampler, neck x pooling, FAM); ``stale_keys`` refuses stale runs
    sampler_positives    positives per anchor per batch of every sampler
    mask_study           do the K MPMG part masks differ (Fig. 5)
    paper_scale_check    the paper's configuration end to end

Appearance on unseen video (docs/experiments/unseen_scenes.md, issue 27; their modules have no
``main``: scripts/nested_loso.py, imagenet_layer.py and bench_appearance.py are their commands):
    nested_loso          nested leave-one-scene-out study of fusion rules on training-free cues
    imagenet_layer       the ImageNet MobileNetV2 layer / pooling / crop size by GT-box retrieval
    cue_speed            per-box cost of colour, ImageNet and Re-ID cues in one process
    scenes               the four shared scenes

Benchmarks (docs/experiments/speed.md):
    bench_tracker        ``Tracker.update`` per frame per mode
    bench_stages         per-stage time of tracking, PyTorch and ONNX
    bench_track_source   FPS of ``finetrack track`` on a video (one pass vs two networks)
    bench_reid_head      the Re-ID head per frame for the Table 4 variants
    bench_cmc            each camera-motion method per frame
    bench_eval           ``finetrack eval`` on a MOT17-sized synthetic set
"""
