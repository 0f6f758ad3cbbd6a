import numpy as np
import pytest
from conftest import suggest

from gluon_lrfinder.core.curve import LRCurve
from gluon_lrfinder.core.plotting import plot_curve, pyplot


def textbook_curve():
    lrs = np.logspace(-5, 0.5, 80)
    x = np.log10(lrs)
    rng = np.random.RandomState(0)
    losses = 2.0 - 0.8 * np.tanh(2 * (x + 2.5)) + np.where(lrs > 0.3, 20 * (lrs - 0.3), 0) + rng.normal(0, 0.03, 80)
    losses[-1] = np.nan
    return LRCurve(lrs=list(lrs), losses=list(losses))


def test_plot_draws_points_curve_and_suggestion(tmp_path):
    curve = textbook_curve()
    path = tmp_path / "lr.png"
    ax = plot_curve(curve, path=path, method="steepest", show_range=True)
    assert path.exists() and path.stat().st_size > 5000
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert "loss per iteration" in labels and "smoothed loss" in labels
    lr = suggest(curve.lrs, curve.losses, method="steepest", warn=False)
    marker = [line for line in ax.get_lines() if line.get_label().startswith("suggested lr")]
    assert len(marker) == 1 and np.isclose(marker[0].get_xdata()[0], lr)
    assert f"{lr:.2e}" in marker[0].get_label()
    # the dots skip the NaN point
    dots = ax.get_lines()[0]
    assert len(dots.get_xdata()) == 79
    pyplot().close(ax.figure)


def test_plot_into_a_given_axes_and_without_suggestion():
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2)
    ax = plot_curve(textbook_curve(), ax=right, method=None)
    assert ax is right and not left.get_lines()
    assert not [line for line in ax.get_lines() if line.get_label().startswith("suggested")]
    plt.close(fig)


def test_headless_backend_is_agg():
    import matplotlib

    pyplot()
    assert matplotlib.get_backend().lower() == "agg"


def test_finder_plot_uses_the_curve(array_mode, make_learner, tmp_path):
    from gluon_lrfinder import LRFinder

    finder = LRFinder(make_learner())
    finder.find(lr_start=1e-5, lr_end=10, progress=False)
    ax = finder.plot(path=tmp_path / "p.png")
    assert (tmp_path / "p.png").exists()
    xs = ax.get_lines()[0].get_xdata()
    assert np.allclose(xs, [lr for lr, loss in finder.curve.pairs if np.isfinite(loss)])
    pyplot().close(ax.figure)


def test_plot_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        plot_curve(textbook_curve(), method="magic")


def test_the_plotted_curve_passes_through_the_bottom_of_the_raw_losses():
    """On the demo's own curve the drawn line reaches the raw losses' bottom (a running median of
    7), where the wider smoothing the rules read floats well above it."""
    import json
    from pathlib import Path

    from gluon_lrfinder import LRCurve
    from gluon_lrfinder.core.smoothing import zero_phase

    data = json.loads((Path(__file__).parent / "data" / "demo_curve.json").read_text())
    curve = LRCurve(lrs=data["lrs"], losses=data["losses"])
    ax = plot_curve(curve, method=None)
    line = next(line for line in ax.get_lines() if line.get_label() == "smoothed loss")
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    losses = np.asarray(curve.losses)
    median7 = np.array([np.median(losses[max(0, i - 3):i + 4]) for i in range(losses.size)])
    bottom = float(median7.min())
    assert float(y.min()) == pytest.approx(bottom, rel=0.1)
    assert abs(np.log10(x[np.argmin(y)] / curve.lrs[int(np.argmin(median7))])) < 0.15
    assert float(zero_phase(np.asarray(curve.lrs), losses).min()) > 2 * bottom  # what the rules read
    pyplot().close(ax.figure)

