"""The command line: outputs, one-line user errors with exit status 2, own models and data."""
import json
import os
import subprocess
import sys
import textwrap

import mxnet as mx
import numpy as np
import pytest
from conftest import pack_digits_rec
from mxnet import gluon

from gluon_lrfinder.core.plan import exponential
from gluon_lrfinder.core.rules import DEFAULT_METHOD, get_rule
from gluon_lrfinder.demo import build_net, load_task
from gluon_lrfinder.integrations.cli import main
from gluon_lrfinder.integrations.cli_args import build_parser, optimizer_names, parse_ctx

#: A short sweep for the tests that only need the plumbing to work.
SHORT = ["--lr-start", "1e-4", "--lr-end", "10", "--num-iter", "40", "--no-progress"]


def run_cli(argv, capsys):
    """``main(argv)``, its exit code and what it printed."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_user_error(argv, capsys, match):
    code, out, err = run_cli(argv, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, no traceback
    assert lines[0].startswith("gluon-lrfinder: error: ")
    assert __import__("re").search(match, lines[0]), lines[0]
    return lines[0]


def test_verbose_adds_how_the_suggestion_was_made(tmp_path, capsys):
    code, printed, _ = run_cli(["--out", tmp_path, "--no-progress", "--verbose"], capsys)
    assert code == 0
    assert f"How: rule '{DEFAULT_METHOD}', {get_rule(DEFAULT_METHOD).description}." in " ".join(printed.split())
    assert "rules agree within" in printed  # the whole report


def test_demo_writes_plot_curve_and_summary(tmp_path, capsys):
    out = tmp_path / "out"
    code, printed, _ = run_cli(["--out", out, "--no-progress"], capsys)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    lr = summary["suggested_lr"]
    low, high = summary["lr_range"]
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["lrs"][0] <= low < high <= curve["lrs"][-1]
    assert low <= lr and high <= 3 * lr * (1 + 1e-12)  # the SGD suggestion lies at or above the steepest point
    assert high / low >= 3 * (1 - 1e-12)  # and a factor of 3 wide
    assert f"Suggested learning rate: {lr:.3g}  (train at this constant rate)" in printed
    assert f"For a one-cycle or cyclical schedule: min_lr {low:.3g}, max_lr {high:.3g}" in printed
    words = get_rule(DEFAULT_METHOD).description
    assert words not in " ".join(printed.split())  # the rules' internals are for --verbose
    assert ("Watch out: " in printed) == bool(summary["flags"])
    assert (out / "lr_finder.png").stat().st_size > 5000
    assert (out / "lr_finder.csv").read_text().startswith("# format:")
    assert curve["settings"]["dataset"] == "digits" and curve["settings"]["loss"] == "softmax-ce"
    wrote = [line for line in printed.splitlines() if line.startswith("Wrote ")]
    assert wrote == [f"Wrote the plot to {out / 'lr_finder.png'}; the curve to {out / 'lr_finder.csv'} and "
                     f"{out / 'lr_finder.json'}; the summary to {out / 'summary.json'}"]
    assert summary["files"]["summary"] == str(out / "summary.json")


def test_options_image_data_adam_two_contexts(tmp_path):
    out = tmp_path / "o"
    code = main(["--dataset", "digits_image", "--optimizer", "adam", "--ctx", "cpu:0,cpu:1", "--lr-start", "1e-5",
                 "--lr-end", "1", "--num-iter", "30", "--hybridize", "--out", str(out), "--no-progress"])
    assert code == 0
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["settings"]["net"] == "cnn" and curve["settings"]["contexts"] == ["cpu(0)", "cpu(1)"]
    assert len(curve["lrs"]) <= 30


@pytest.mark.parametrize("argv, match", [
    (["--ctx", "tpu:0"], r"--ctx must look like 'cpu', 'gpu:0'"),
    (["--optimizer", "adamw"], r"--optimizer must be one of adadelta, .*adam, .*sgd.*; got 'adamw'"),
    (["--optimizer", "adam", "--momentum", "0.9"],
     r"--momentum is not an option of --optimizer adam \(it takes: beta1"),
    (["--optimizer", "SGD", "--momentum", "1.5"], r"--momentum must be in \[0, 1\), got 1.5"),
    (["--lr-start", "0"], r"--lr-start must be a finite number > 0, got 0.0"),
    (["--lr-start", "abc"], r"--lr-start must be a number, got 'abc'"),
    (["--lr-end", "1e-7"], r"--lr-end must be > --lr-start \(1e-06\), got 1e-07"),
    (["--lr-multiplier", "1"], r"--lr-multiplier must be a finite number > 1.0, got 1.0"),
    (["--lr-multiplier", "1.2", "--num-iter", "50"], r"give --lr-multiplier or --num-iter, not both"),
    (["--num-iter", "1"], r"--num-iter must be an integer >= 2, got 1"),
    (["--num-iter", "2.5"], r"--num-iter must be an integer, got '2.5'"),
    (["--batch-size", "0"], r"--batch-size must be an integer >= 1, got 0"),
    (["--smoothing", "1"], r"--smoothing must be in \[0, 1\), got 1.0"),
    (["--min-iter", "0"], r"--min-iter must be an integer >= 1, got 0"),
    (["--threshold", "0.5"], r"--threshold must be a finite number > 1.0, got 0.5"),
    (["--wd", "-1"], r"--wd must be >= 0, got -1.0"),
    (["--weight-decay", "0,1e-4,-1"], r"--wd must be >= 0, got -1.0"),
    (["--momentum", "0.9,x"], r"--momentum must be a number, got 'x'"),
    (["--optimizer", "adagrad", "--momentum", "0.85,0.9"],
     r"--momentum with several values needs .*AdaGrad optimizer has neither a momentum nor a beta1"),
    (["--wd", "0,1e-3", "--repeats", "0"], r"--repeats must be an integer >= 1, got 0"),
    (["--seed", "x"], r"--seed must be an integer, got 'x'"),
    (["--seed", "-1"], r"--seed must be an integer >= 0, got -1"),
    (["--mode", "cubic"], r"argument --mode: invalid choice: 'cubic'"),
    (["--net", "cnn"], r"--net cnn needs image data \(channels, height, width\), not digits"),
    (["--bogus"], r"unrecognized arguments: --bogus"),
])
def test_user_errors_are_one_line_with_status_2(argv, match, tmp_path, capsys):
    assert_user_error(argv + ["--out", tmp_path / "o"], capsys, match)
    assert not (tmp_path / "o" / "lr_finder.json").exists()


def test_gpu_context_refused_up_front_without_a_gpu(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(mx.context, "num_gpus", lambda: 0)
    assert_user_error(["--ctx", "gpu:0", "--out", tmp_path], capsys,
                      r"--ctx gpu:0: this MXNet build sees no GPU .*; use --ctx cpu")
    monkeypatch.setattr(mx.context, "num_gpus", lambda: 2)
    assert_user_error(["--ctx", "gpu:0,gpu:2", "--out", tmp_path], capsys,
                      r"gpu:2 does not exist, this machine has 2 GPU\(s\) \(gpu:0 .. gpu:1\)")
    assert parse_ctx("gpu:1") == mx.gpu(1)  # 2 GPUs "seen": accepted


def test_parse_ctx():
    assert parse_ctx("gpu:1", check_devices=False) == mx.gpu(1)
    assert parse_ctx("cpu:0,cpu:1") == [mx.cpu(0), mx.cpu(1)]
    assert "sgd" in optimizer_names() and "test" not in optimizer_names()


def test_help_shows_every_sweep_default():
    text = " ".join(build_parser().format_help().split())
    for option, default in [("--lr-start", "1e-06"), ("--lr-end", "10.0"), ("--mode", "exponential"),
                            ("--smoothing", "0.3"), ("--min-iter", "20"), ("--threshold", "2.0"), ("--seed", "0"),
                            ("--batch-size", "64")]:
        start = text.index(f" {option} ", text.index("options:"))
        assert f"(default: {default})" in text[start:start + 400], option
    assert "--num-iter NUM_ITER number of iterations" in text and "(default: as many as --lr-multiplier needs" in text


def test_python_dash_m_help_and_error_without_traceback():
    result = subprocess.run([sys.executable, "-m", "gluon_lrfinder", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "--dataset" in result.stdout and "--npz" in result.stdout
    result = subprocess.run([sys.executable, "-m", "gluon_lrfinder", "--optimizer", "adam", "--momentum", "0.9"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "--momentum is not an option of --optimizer adam" in result.stderr


def test_non_terminal_log_has_a_bar_with_total_and_separate_summary(tmp_path):
    """stdout and stderr into one file, as `gluon-lrfinder > log 2>&1` does."""
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        code = subprocess.run([sys.executable, "-m", "gluon_lrfinder", "--lr-start", "1e-3", "--out",
                               str(tmp_path / "o")], stdout=f, stderr=subprocess.STDOUT, timeout=300,
                              env=dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")).returncode
    assert code == 0
    text = log.read_bytes().decode("utf-8")  # as written: read_text() would turn "\r" into "\n"
    total = len(list(exponential(1e-3, lr_end=10.0)))  # the CLI's default --lr-end is 10
    assert f"/{total} [" in text  # the bar knows its total
    lines = text.split("\n")  # not splitlines(): a "\r" does not end a line in a log file
    assert any(line.startswith("Swept ") for line in lines)  # not glued behind the bar's last "\r"


# ---------------------------------------------------------------------- own models and data
@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    """The digits training split as ``X``/``y`` arrays in an .npz file."""
    task = load_task("digits")
    X = np.stack([task.train[i][0] for i in range(len(task.train))])
    y = np.array([task.train[i][1] for i in range(len(task.train))])
    path = tmp_path_factory.mktemp("npz") / "digits.npz"
    np.savez(path, X=X, y=y)
    return path


def trained_export(folder, steps):
    """An MLP trained ``steps`` SGD steps on digits, saved with HybridBlock.export into ``folder``."""
    folder.mkdir(exist_ok=True)
    task = load_task("digits")
    mx.random.seed(3)
    net = build_net("mlp", 10)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    loader = gluon.data.DataLoader(task.train, batch_size=64, shuffle=True, last_batch="discard")
    batches = (batch for _ in range(steps) for batch in loader)
    for _, (x, y) in zip(range(steps), batches):
        with mx.autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(x.shape[0])
    net(mx.nd.zeros((1, 64)))  # a forward pass makes the cached graph export needs
    net.export(str(folder / "net"))
    return folder / "net-symbol.json", folder / "net-0000.params"


def test_exported_model_with_npz_data(tmp_path, digits_npz, capsys):
    symbol, params = trained_export(tmp_path / "trained", steps=150)
    untrained_symbol, untrained_params = trained_export(tmp_path / "untrained", steps=0)
    before = params.read_bytes()
    out = tmp_path / "o"
    code, printed, err = run_cli(["--model", symbol, "--params", params, "--npz", digits_npz, "--out", out] + SHORT,
                                 capsys)
    assert code == 0, err
    assert params.read_bytes() == before  # the user's file is read, never written
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["settings"]["net"] == "net-symbol.json" and curve["settings"]["npz"] == str(digits_npz)
    assert "on digits.npz with net-symbol.json/sgd" in printed
    assert json.loads((out / "summary.json").read_text())["iterations"] == len(curve["lrs"])
    # the trained weights were loaded: the first losses are far below an untrained copy's
    code, _, _ = run_cli(["--model", untrained_symbol, "--params", untrained_params, "--npz", digits_npz,
                          "--out", tmp_path / "u_out"] + SHORT, capsys)
    untrained = json.loads((tmp_path / "u_out" / "lr_finder.json").read_text())
    assert code == 0
    assert np.mean(curve["losses"][:5]) < 0.5 * np.mean(untrained["losses"][:5])


def test_model_errors(tmp_path, digits_npz, capsys):
    symbol, params = trained_export(tmp_path / "m", steps=1)
    base = ["--out", tmp_path / "o"] + SHORT
    assert_user_error(["--model", symbol, "--npz", digits_npz] + base, capsys, r"--model and --params go together")
    assert_user_error(["--model", tmp_path / "nope.json", "--params", params] + base, capsys,
                      r"--model .*nope.json: does not exist")
    assert_user_error(["--model", symbol, "--params", tmp_path] + base, capsys, r"is a folder, not a file")
    assert_user_error(["--model", params, "--params", params] + base, capsys, r"not an MXNet symbol file")
    assert_user_error(["--model", symbol, "--params", symbol] + base, capsys, r"not an MXNet parameter file")
    assert_user_error(["--model", symbol, "--params", params, "--net", "mlp"] + base, capsys,
                      r"either --net or --model/--params")
    wrong = tmp_path / "wrong.npz"  # 10 features for a net exported with 64 inputs
    np.savez(wrong, X=np.ones((50, 10), np.float32), y=np.zeros(50))
    assert_user_error(["--model", symbol, "--params", params, "--npz", wrong] + base, capsys,
                      r"training net-symbol.json on wrong.npz \(samples of shape \(10,\)\) with --loss softmax-ce "
                      r"failed: .*[Ss]hape.*; check that the data fit the network and the loss")


FACTORY_MODULE = textwrap.dedent("""
    from mxnet import gluon

    def build():
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(32, activation="relu"), gluon.nn.Dense(10))
        return net

    def build_cnn():
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Conv2D(8, 3, padding=1, activation="relu"), gluon.nn.GlobalAvgPool2D(),
                gluon.nn.Flatten(), gluon.nn.Dense(10))
        return net

    def not_a_block():
        return 42

    def broken():
        raise RuntimeError("no weights here")

    CONSTANT = 3
""")


@pytest.fixture
def factory_module(tmp_path, monkeypatch):
    """A module ``cli_factories`` in a folder that is the current directory (as a user's would be)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "cli_factories.py").write_text(FACTORY_MODULE)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(folder))])
    yield "cli_factories"
    sys.modules.pop("cli_factories", None)


def test_net_factory_with_npz(factory_module, tmp_path, digits_npz, capsys):
    out = tmp_path / "o"
    code, printed, err = run_cli(["--net", f"{factory_module}:build", "--npz", digits_npz, "--out", out,
                                  "--optimizer", "nag", "--momentum", "0.9"] + SHORT, capsys)
    assert code == 0, err
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["settings"]["net"] == "cli_factories:build" and curve["settings"]["optimizer"] == "NAG"
    assert len(curve["lrs"]) >= 20 and "with cli_factories:build/nag" in printed


@pytest.mark.parametrize("spec, match", [
    ("cli_factories:not_a_block", r"the factory must return a gluon.Block, got int"),
    ("cli_factories:broken", r"the factory raised RuntimeError: no weights here"),
    ("cli_factories:missing", r"module 'cli_factories' has no attribute 'missing'"),
    ("cli_factories:CONSTANT", r"'CONSTANT' is not callable"),
    ("no_such_module_xyz:build", r"cannot import module 'no_such_module_xyz'"),
    ("resnet", r"--net must be a bundled net or MODULE:FUNCTION"),
])
def test_net_factory_errors(spec, match, factory_module, tmp_path, digits_npz, capsys):
    assert_user_error(["--net", spec, "--npz", digits_npz, "--out", tmp_path / "o"] + SHORT, capsys, match)


def test_bundled_net_and_losses_on_npz(tmp_path, capsys):
    from sklearn.datasets import load_breast_cancer, load_diabetes

    X, y = load_breast_cancer(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    binary = tmp_path / "binary.npz"
    np.savez(binary, X=X, y=y)
    code, _, err = run_cli(["--npz", binary, "--loss", "sigmoid-bce", "--net", "mlp", "--out", tmp_path / "b"]
                           + SHORT, capsys)
    assert code == 0, err
    curve = json.loads((tmp_path / "b" / "lr_finder.json").read_text())
    assert curve["settings"]["loss"] == "sigmoid-bce"
    assert curve["losses"][0] < 1.0  # binary cross-entropy of one logit near 0: about ln 2, not ln 2 classes
    X, y = load_diabetes(return_X_y=True)
    regression = tmp_path / "reg.npz"
    np.savez(regression, X=((X - X.mean(0)) / X.std(0)), y=(y - y.mean()) / y.std())
    code, _, err = run_cli(["--npz", regression, "--out", tmp_path / "r"] + SHORT, capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "lr_finder.json").read_text())["settings"]["loss"] == "l2"  # chosen


def test_npz_errors(tmp_path, capsys):
    base = ["--out", tmp_path / "o"] + SHORT
    np.savez(tmp_path / "no_y.npz", X=np.ones((5, 3)))
    np.savez(tmp_path / "short_y.npz", X=np.ones((5, 3)), y=np.zeros(4))
    np.savez(tmp_path / "text.npz", X=np.array([["a"]] * 5), y=np.zeros(5))
    np.savez(tmp_path / "nan.npz", X=np.full((5, 3), np.nan), y=np.zeros(5))
    (tmp_path / "garbage.npz").write_text("not numpy")
    assert_user_error(["--npz", tmp_path / "absent.npz"] + base, capsys, r"--npz .*absent.npz: does not exist")
    assert_user_error(["--npz", tmp_path / "no_y.npz"] + base, capsys, r"needs arrays 'X' and 'y', it has \['X'\]")
    assert_user_error(["--npz", tmp_path / "short_y.npz"] + base, capsys,
                      r"X and y must have as many samples, got X \(5, 3\) and y \(4,\)")
    assert_user_error(["--npz", tmp_path / "text.npz"] + base, capsys, r"array X must be numeric, got dtype <U1")
    assert_user_error(["--npz", tmp_path / "nan.npz"] + base, capsys, r"must be finite")
    assert_user_error(["--npz", tmp_path / "garbage.npz"] + base, capsys, r"cannot read it as a NumPy archive")
    assert_user_error(["--npz", tmp_path / "garbage.npz", "--dataset", "iris"] + base, capsys,
                      r"give one data source, got --dataset and --npz")
    assert_user_error(["--data-shape", "1,8,8"] + base, capsys, r"--data-shape applies to --rec only")
    np.savez(tmp_path / "onehot.npz", X=np.ones((6, 3)), y=np.eye(3)[[0, 1, 2, 0, 1, 2]])
    np.savez(tmp_path / "classes.npz", X=np.ones((6, 3)), y=np.array([0, 1, 2, 0, 1, 2]))
    assert_user_error(["--npz", tmp_path / "onehot.npz", "--loss", "softmax-ce"] + base, capsys,
                      r"--loss softmax-ce needs y of class indices .* shape \(6, 3\) .*one-hot rows\? store y.argmax")
    assert_user_error(["--npz", tmp_path / "classes.npz", "--loss", "sigmoid-bce"] + base, capsys,
                      r"--loss sigmoid-bce needs y in \[0, 1\] \(binary targets\), got values from 0 to 2")


def test_rec_images_with_net_factory(factory_module, tmp_path, capsys):
    rec, _idx, _images, _labels = pack_digits_rec(tmp_path, count=300)
    out = tmp_path / "o"
    code, printed, err = run_cli(["--rec", rec, "--data-shape", "1,8,8", "--std", "64", "--net",
                                  f"{factory_module}:build_cnn", "--batch-size", "32", "--out", out] + SHORT, capsys)
    assert code == 0, err
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["settings"]["data_shape"] == [1, 8, 8] and curve["settings"]["rec"] == str(rec)
    assert len(curve["lrs"]) >= 20  # 40 iterations of 32 span several passes over 300 images: reset() works
    assert "on digits.rec with cli_factories:build_cnn/sgd" in printed
    assert_user_error(["--rec", rec, "--out", out] + SHORT, capsys, r"--rec needs --data-shape")
    assert_user_error(["--rec", rec, "--data-shape", "8,8", "--net", f"{factory_module}:build_cnn", "--out", out]
                      + SHORT, capsys, r"--data-shape must be channels,height,width .*got \(8, 8\)")
    assert_user_error(["--rec", rec, "--data-shape", "1,x,8", "--out", out] + SHORT, capsys,
                      r"--data-shape must be positive integers separated by commas .*got '1,x,8'")
    assert_user_error(["--rec", rec, "--data-shape", "1,8,8", "--mean", "1,2", "--out", out] + SHORT, capsys,
                      r"--mean must be 1 or 3 numbers")
    assert_user_error(["--rec", rec, "--data-shape", "1,8,8", "--out", out] + SHORT, capsys,
                      r"--net cnn with --loss softmax-ce needs the number of outputs")
    (tmp_path / "fake.rec").write_bytes(b"\0" * 64)
    assert_user_error(["--rec", tmp_path / "fake.rec", "--data-shape", "1,8,8", "--net",
                       f"{factory_module}:build_cnn", "--out", out] + SHORT, capsys, r"fake.rec")


def test_weight_decay_and_momentum_grid(tmp_path, capsys):
    out = tmp_path / "grid"
    code, printed, err = run_cli(["--weight-decay", "0,1e-3", "--momentum", "0.85,0.95", "--out", out] + SHORT,
                                 capsys)
    assert code == 0, err
    summary = json.loads((out / "grid.json").read_text())
    assert [(row["weight_decay"], row["momentum"]) for row in summary["table"]] == [
        (0.0, 0.85), (0.0, 0.95), (1e-3, 0.85), (1e-3, 0.95)]
    # a command line has no values of the user's to keep: no recommendation, the sweep's pick as a diagnostic
    assert summary["recommended"] is None and summary["suggested_lr"] is None and summary["validated"] is False
    assert summary["sweep_pick"] in [{"weight_decay": r["weight_decay"], "momentum": r["momentum"]}
                                     for r in summary["table"]]
    assert 1e-4 <= summary["sweep_pick_lr"] <= 10 and summary["reason"] in printed
    assert summary["reason"].startswith("no recommendation") and summary["evidence"].startswith("range tests only")
    assert all(note in printed for note in summary["notes"])
    assert "4 combinations" in printed and "<- recommended" not in printed
    assert "<- sweep's pick (not validated)" in printed and "The grid is a diagnostic" in printed
    assert (out / "grid.png").stat().st_size > 1000 and "Wrote" in printed


def test_momentum_grid_is_beta1_for_adam(tmp_path, capsys):
    out = tmp_path / "adam"
    code, printed, err = run_cli(["--optimizer", "adam", "--momentum", "0.8,0.9", "--out", out] + SHORT, capsys)
    assert code == 0, err
    table = json.loads((out / "grid.json").read_text())["table"]
    assert [row["momentum"] for row in table] == [0.8, 0.9]


def test_ctrl_c_writes_what_was_recorded_and_exits_130(tmp_path, capsys, monkeypatch):
    import gluon_lrfinder.integrations.cli as cli

    real = cli._loss

    def interrupting(name):
        loss = real(name)
        calls = {"n": 0}

        def call(*args):
            calls["n"] += 1
            if calls["n"] == 30:
                raise KeyboardInterrupt
            return loss(*args)

        return call

    monkeypatch.setattr(cli, "_loss", interrupting)
    out = tmp_path / "o"
    code, printed, err = run_cli(["--out", out] + SHORT, capsys)
    assert code == 130, err
    assert "interrupted after" in err
    curve = json.loads((out / "lr_finder.json").read_text())
    assert curve["stop_reason"].startswith("interrupted") and 20 <= len(curve["lrs"]) < 30
    assert (out / "lr_finder.png").exists() and "Suggested learning rate" in printed
