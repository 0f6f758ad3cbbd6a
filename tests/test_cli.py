import json
import subprocess
import sys

import pytest

from gluon_lrfinder.cli import main, parse_ctx


def test_demo_writes_plot_curve_and_summary(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    lr = summary["suggested_lr"]
    low, high = summary["lr_range"]
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["lrs"][0] <= low < high <= curve["lrs"][-1]
    assert curve["lrs"][0] <= lr <= curve["lrs"][-1]
    assert f"{lr:.3g}" in printed
    assert (out / "lr_finder.png").stat().st_size > 5000
    assert (out / "lr_finder.csv").read_text().startswith("# format:")
    assert curve["settings"]["dataset"] == "digits"


def test_options_image_data_adam_two_contexts(tmp_path):
    out = tmp_path / "o"
    code = main(["--dataset", "digits_image", "--optimizer", "adam", "--ctx", "cpu:0,cpu:1", "--lr-start", "1e-5",
                 "--lr-end", "1", "--num-iter", "30", "--hybridize", "--out", str(out), "--no-progress"])
    assert code == 0
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["settings"]["net"] == "cnn" and curve["settings"]["contexts"] == ["cpu(0)", "cpu(1)"]
    assert len(curve["lrs"]) <= 30


def test_bad_options(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--ctx", "tpu:0"])
    assert "--ctx must look like" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--lr-start", "0"])
    assert "--lr-start must be > 0" in capsys.readouterr().err
    assert main(["--net", "cnn", "--out", str(tmp_path)]) == 2
    assert "--net cnn needs image data" in capsys.readouterr().err


def test_parse_ctx():
    import mxnet as mx

    assert parse_ctx("gpu:1") == mx.gpu(1)
    assert parse_ctx("cpu:0,cpu:1") == [mx.cpu(0), mx.cpu(1)]


def test_python_dash_m(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gluon_lrfinder", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "--dataset" in result.stdout
