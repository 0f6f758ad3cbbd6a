import json
import math

import pytest

from gluon_lrfinder.curve import LRCurve


def make_curve():
    curve = LRCurve(settings={"lr_start": 1e-4, "mode": "exponential"}, stop_reason="diverged")
    for lr, loss, smooth in [(1e-4, 2.31, 2.31), (1e-3, 2.0, 2.2), (1e-2, 1.1, 1.8), (1e-1, float("nan"), None)]:
        curve.append(lr, loss, smooth)
    return curve


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_round_trip(tmp_path, suffix):
    curve = make_curve()
    path = curve.save(tmp_path / f"run{suffix}")
    back = LRCurve.load(path)
    assert back.lrs == curve.lrs
    assert back.losses[:3] == curve.losses[:3] and math.isnan(back.losses[3])
    assert back.smoothed[:3] == curve.smoothed[:3] and math.isnan(back.smoothed[3])
    assert back.settings == curve.settings
    assert back.stop_reason == "diverged"
    assert "numpy" in back.versions and "gluon_lrfinder" in back.versions


def test_json_is_plain_json_without_nan(tmp_path):
    path = make_curve().to_json(tmp_path / "run.json")
    text = open(path).read()
    assert "NaN" not in text
    assert json.loads(text)["losses"][3] is None


def test_pairs():
    assert make_curve().pairs[:2] == [(1e-4, 2.31), (1e-3, 2.0)]


def test_bad_suffix_and_bad_file(tmp_path):
    with pytest.raises(ValueError, match=r"path must end in '\.csv' or '\.json'"):
        make_curve().save(tmp_path / "run.txt")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a gluon-lrfinder CSV"):
        LRCurve.load(bad)
    with pytest.raises(ValueError, match="not a gluon-lrfinder curve"):
        LRCurve.from_dict({"x": 1})
