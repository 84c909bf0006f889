"""finetrack/studies/cross_scene.py's model table: the colour rows need no model and read no training scene."""
from pathlib import Path

from finetrack.studies import cross_scene as cs

REPO = Path(__file__).resolve().parents[2]


def test_colour_specs_train_nothing_and_split_the_halves():
    specs = cs.model_specs(["color"], seed=1)
    assert set(specs) == {"color", "color-val"}
    assert all(s["config"] is None for s in specs.values())
    assert specs["color"]["tracks"] == [(s, "all") for s in cs.REAL]
    assert specs["color-val"]["tracks"] == [(s, "val") for s in cs.REAL]
    # every other model is a training config, and every loso model leaves its scene out
    for name, spec in cs.model_specs(["pets09", "synthetic", "loso", "inscene"]).items():
        assert (REPO / spec["config"]).is_file(), name
        if name.startswith("loso-"):
            assert name[5:] not in spec["overrides"][0] and spec["tracks"] == [(name[5:], "all")]
