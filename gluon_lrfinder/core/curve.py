"""The result of one range test: the record, what it suggests, its plot, a CSV/JSON round trip.

No MXNet import: a saved curve can be re-read, re-suggested and re-plotted without MXNet
(matplotlib is imported only when :meth:`LRCurve.plot` draws). :class:`~gluon_lrfinder.LRFinder`
runs the test and fills the curve; its ``suggest()``, ``plot()``... delegate here.

Examples
--------
>>> curve = LRCurve(settings={"lr_start": 1e-3})
>>> curve.append(1e-3, 2.3, 2.3)
>>> curve.append(1e-2, 2.1, 2.16)
>>> curve.pairs
[(0.001, 2.3), (0.01, 2.1)]
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from ._validate import check_choice
from ._version import __version__
from .plotting import plot_curve
from .registry import CurvePoints
from .report import SuggestionReport, diagnose, report_curve, suggest_curve, warn_flags
from .rules import DEFAULT_METHOD, Method, get_rule, lr_range
from .stopping import StopReason

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["LRCurve", "library_versions", "DATA_PROBLEM"]

#: The key under which a saved curve holds :attr:`LRCurve.data_problem` (and, in files written
#: before it was a field of its own, the key of ``settings`` that held it).
DATA_PROBLEM = "data_problem"

PathLike = Union[str, "os.PathLike[str]"]
_CSV_COLUMNS = ["iteration", "lr", "loss", "smoothed_loss"]
_CSV_VALID = "valid_loss"


def library_versions() -> Dict[str, str]:
    """Versions of Python, NumPy, MXNet (when importable) and gluon-lrfinder, for the record."""
    versions = {"gluon_lrfinder": __version__, "python": platform.python_version()}
    import numpy

    versions["numpy"] = numpy.__version__
    try:  # the record stays writable without MXNet (e.g. when re-plotting a saved curve)
        import mxnet

        versions["mxnet"] = mxnet.__version__
    except Exception:  # noqa: BLE001 - any import failure just leaves the field out
        pass
    return versions


def _to_float(text: str) -> float:
    return float(text) if text not in ("", "nan") else math.nan


@dataclass
class LRCurve:
    """Learning rates, raw losses and the stopping rule's smoothed losses of one sweep.

    Parameters
    ----------
    lrs, losses, smoothed : list of float
        One entry per recorded iteration; ``smoothed`` is the causal moving average the stopping
        rule saw (NaN where the loss was not finite).
    settings : dict
        The arguments of the sweep (JSON-serialisable).
    versions : dict
        Library versions (filled in by :func:`library_versions` when empty).
    stop_reason : StopReason or str, optional
        Why the sweep ended (:class:`~gluon_lrfinder.core.stopping.StopReason`, equal to its
        text; a custom stopping rule's own reason stays text).
    valid_lrs, valid_losses : list of float
        The optional validation signal (``find(valid_data=...)``): the LR of the iteration after
        which the held-out set was evaluated, and its mean loss. Empty when not measured; files
        without them load as before, and files of curves without them are written as before.
    data_problem : str, optional
        The diagnosis of non-finite data found during the sweep (a NaN in a batch, parameters
        spoiled while the loss stayed finite): such a curve gives no suggestion.
    """

    lrs: List[float] = field(default_factory=list)
    losses: List[float] = field(default_factory=list)
    smoothed: List[float] = field(default_factory=list)
    settings: Dict[str, Any] = field(default_factory=dict)
    versions: Dict[str, str] = field(default_factory=dict)
    stop_reason: Optional[str] = None
    valid_lrs: List[float] = field(default_factory=list)
    valid_losses: List[float] = field(default_factory=list)
    data_problem: Optional[str] = None

    def __post_init__(self) -> None:
        self.stop_reason = StopReason.parse(self.stop_reason)
        if DATA_PROBLEM in self.settings:  # a curve of earlier versions kept it in its settings
            problem = self.settings[DATA_PROBLEM]
            self.settings = {k: v for k, v in self.settings.items() if k != DATA_PROBLEM}
            self.data_problem = self.data_problem or str(problem)

    def append(self, lr: float, loss: float, smoothed: Optional[float] = None) -> None:
        """Record one iteration."""
        self.lrs.append(float(lr))
        self.losses.append(float(loss))
        self.smoothed.append(math.nan if smoothed is None else float(smoothed))

    def append_valid(self, lr: float, loss: float) -> None:
        """Record one evaluation of the held-out set, made after the iteration run at ``lr``."""
        self.valid_lrs.append(float(lr))
        self.valid_losses.append(float(loss))

    def __len__(self) -> int:
        return len(self.lrs)

    @property
    def pairs(self) -> List[Tuple[float, float]]:
        """``[(lr, loss), ...]`` in sweep order."""
        return list(zip(self.lrs, self.losses))

    # ------------------------------------------------------------------ what the curve says
    def suggest(
        self,
        method: Method = DEFAULT_METHOD,
        bandwidth: Optional[float] = None,
        warn: bool = True,
        source: str = "train",
    ) -> float:
        """The recommended initial learning rate of this curve.

        Parameters
        ----------
        method : str or callable, default ``DEFAULT_METHOD``
            A registered rule (:func:`gluon_lrfinder.core.rules.get_rule`): ``"blend"`` (the default; it
            reads the optimizer recorded in ``settings["optimizer"]``), ``"steepest"``,
            ``"valley"``, ``"minimum"`` (minimum / 10) or the baselines ``"raw_steepest"``,
            ``"ema_steepest"``; or a rule callable ``rule(lrs, losses, bandwidth) -> lr``.
        bandwidth : float, optional
            Smoothing width in decades of LR.
        warn : bool, default True
            Warn (``SuggestionWarning``) for each flag of :meth:`diagnose` and when the rules
            disagree by more than a decade.
        source : {"train", "valid"}, default "train"
            Read the training curve, or the validation signal of ``find(valid_data=...)``.

        Raises
        ------
        RuntimeError
            ``source="valid"`` without a validation signal.
        ValueError
            Unknown ``method`` or ``source``, too few finite points, or a curve flagged for bad
            data (:attr:`data_problem`).

        Examples
        --------
        >>> import numpy as np
        >>> lrs = np.logspace(-4, 0, 41)
        >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + 50 * np.maximum(lrs - 0.1, 0)
        >>> c = LRCurve(lrs=list(lrs), losses=list(losses))
        >>> float(c.suggest(method="steepest"))
        0.01
        """
        check_choice("source", source, ("train", "valid"))
        if self.data_problem is not None:
            raise ValueError(f"no suggestion from this curve: {self.data_problem}")
        if source == "valid":
            if not self.valid_lrs:
                raise RuntimeError("source='valid' needs a validation signal: call find(valid_data=...) first")
            return suggest_curve(self.valid_curve(), method=method, bandwidth=bandwidth, warn=warn)
        return suggest_curve(self, method=method, bandwidth=bandwidth, warn=warn)

    def suggest_range(self, bandwidth: Optional[float] = None, warn: bool = True) -> Tuple[float, float]:
        """``(min_lr, max_lr)`` for cyclical and one-cycle schedules (:func:`gluon_lrfinder.core.rules.lr_range`).

        With ``warn`` (the default), each flag of :meth:`diagnose` (a sweep that never diverged,
        a second dip, a bumpy curve, ...) is emitted as a ``SuggestionWarning``, with what to do.

        Examples
        --------
        >>> import numpy as np
        >>> lrs = np.logspace(-4, 0, 41)
        >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + 50 * np.maximum(lrs - 0.1, 0)
        >>> c = LRCurve(lrs=list(lrs), losses=list(losses))
        >>> low, high = c.suggest_range()
        >>> low < high
        True
        """
        if warn:
            warn_flags(self.diagnose(), stacklevel=2)
        return lr_range(self.lrs, self.losses, bandwidth, optimizer=self.settings.get("optimizer"))

    def diagnose(self) -> List[str]:
        """Plain flags about this curve (``[]`` when it looks fine), bad data first.

        Examples
        --------
        >>> LRCurve(lrs=[1e-3, 1e-2, 1e-1] * 4, losses=[1.0] * 12).diagnose() != []
        True
        """
        problem = [self.data_problem] if self.data_problem is not None else []
        return problem + diagnose(self.lrs, self.losses)

    def report(self, method: Method = DEFAULT_METHOD, bandwidth: Optional[float] = None) -> SuggestionReport:
        """Every rule's LR for this curve, how far they agree, the range and the flags.

        ``print(curve.report())`` gives a readable summary; the validation signal's own
        suggestion is included when one was measured. See :func:`gluon_lrfinder.core.report.report_curve`.
        A curve flagged for bad data gives a report without suggestions (NaN) that says why.

        Examples
        --------
        >>> import numpy as np
        >>> lrs = np.logspace(-4, 0, 41)
        >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + 50 * np.maximum(lrs - 0.1, 0)
        >>> c = LRCurve(lrs=list(lrs), losses=list(losses))
        >>> float(c.report(method="steepest").lr)
        0.01
        """
        if self.data_problem is not None:  # no confident suggestion: say why instead
            nan = float("nan")
            return SuggestionReport(get_rule(method).name, nan, {}, nan, (nan, nan), flags=self.diagnose())
        return report_curve(self, method=method, bandwidth=bandwidth,
                            valid=self.valid_curve() if self.valid_lrs else None)

    def valid_curve(self) -> CurvePoints:
        """The validation signal as a curve the rules read (with this curve's settings).

        Examples
        --------
        >>> LRCurve(valid_lrs=[1e-3], valid_losses=[2.0], settings={"optimizer": "SGD"}).valid_curve().settings
        {'optimizer': 'SGD'}
        """
        return CurvePoints(self.valid_lrs, self.valid_losses, self.settings)

    def plot(
        self,
        path: Optional[PathLike] = None,
        ax: Optional[Axes] = None,
        method: Optional[Method] = DEFAULT_METHOD,
        show_range: bool = False,
        **kwargs: Any,
    ) -> Axes:
        """Plot loss against LR (log axis): raw points, smoothed curve, suggestion marked.

        ``path`` also saves the figure, ``ax`` draws into an existing Axes, ``method`` is the
        rule marked (None: none), ``show_range`` shades :meth:`suggest_range`; ``bandwidth``
        and ``title`` go to :func:`gluon_lrfinder.core.plotting.plot_curve`, which holds the details.
        Returns the ``matplotlib.axes.Axes``.

        Examples
        --------
        >>> import numpy as np
        >>> lrs = np.logspace(-4, 0, 41)
        >>> ax = LRCurve(lrs=list(lrs), losses=list(2 - np.tanh(np.log10(lrs) + 2) + lrs)).plot()
        >>> ax.get_xscale()
        'log'
        """
        return plot_curve(self, ax=ax, path=path, method=method, show_range=show_range, **kwargs)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (non-finite losses become ``None``)."""

        def clean(values):
            return [v if math.isfinite(v) else None for v in values]

        out = {
            "format": "gluon-lrfinder-curve/1",
            "lrs": list(self.lrs),
            "losses": clean(self.losses),
            "smoothed": clean(self.smoothed),
            "settings": self.settings,
            "versions": self.versions or library_versions(),
            "stop_reason": self.stop_reason,
        }
        if self.data_problem is not None:
            out[DATA_PROBLEM] = self.data_problem
        if self.valid_lrs:  # optional fields: absent when not measured, so old readers see no change
            out["valid_lrs"] = list(self.valid_lrs)
            out["valid_losses"] = clean(self.valid_losses)
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> LRCurve:
        """Inverse of :meth:`to_dict`."""

        def restore(values):
            return [math.nan if v is None else float(v) for v in values]

        if "lrs" not in data or "losses" not in data:
            raise ValueError("not a gluon-lrfinder curve: the 'lrs' and 'losses' fields are missing")
        losses = restore(data["losses"])
        return cls(
            lrs=[float(v) for v in data["lrs"]],
            losses=losses,
            smoothed=restore(data.get("smoothed") or [None] * len(losses)),
            settings=dict(data.get("settings") or {}),
            versions=dict(data.get("versions") or {}),
            stop_reason=data.get("stop_reason"),
            valid_lrs=[float(v) for v in data.get("valid_lrs") or []],
            valid_losses=restore(data.get("valid_losses") or []),
            data_problem=data.get(DATA_PROBLEM),
        )

    def to_json(self, path: PathLike) -> str:
        """Write the curve as JSON; returns the path."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
        return os.fspath(path)

    def to_csv(self, path: PathLike) -> str:
        """Write the curve as CSV; settings, versions and stop reason go in ``#`` header lines."""
        meta = self.to_dict()
        buf = io.StringIO()
        for key in ("format", "settings", "versions", "stop_reason", DATA_PROBLEM):
            if key in meta:
                buf.write(f"# {key}: {json.dumps(meta[key])}\n")
        writer = csv.writer(buf, lineterminator="\n")
        # the validation signal, when measured, is one more column, empty where it was not evaluated
        valid = dict(zip(self.valid_lrs, self.valid_losses))
        writer.writerow(_CSV_COLUMNS + ([_CSV_VALID] if valid else []))
        for i, (lr, loss, smooth) in enumerate(zip(self.lrs, self.losses, self.smoothed)):
            row = [i, repr(lr), repr(loss), repr(smooth)]
            if valid:
                row.append(repr(valid[lr]) if lr in valid else "")
            writer.writerow(row)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
        return os.fspath(path)

    def save(self, path: PathLike) -> str:
        """Write CSV or JSON, chosen by the file suffix (``.csv`` or ``.json``)."""
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix == ".csv":
            return self.to_csv(path)
        if suffix == ".json":
            return self.to_json(path)
        raise ValueError(f"path must end in '.csv' or '.json', got {os.fspath(path)!r}")

    @classmethod
    def load(cls, path: PathLike) -> LRCurve:
        """Read a curve written by :meth:`to_csv`, :meth:`to_json` or :meth:`save`.

        Examples
        --------
        >>> import os, tempfile
        >>> c = LRCurve(lrs=[1e-3, 1e-2], losses=[1.0, float("nan")], smoothed=[1.0, float("nan")])
        >>> p = os.path.join(tempfile.mkdtemp(), "run.csv")
        >>> LRCurve.load(c.to_csv(p)).lrs
        [0.001, 0.01]
        """
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.lower().endswith(".json") or text.lstrip().startswith("{"):
            return cls.from_dict(json.loads(text))
        meta: Dict[str, Any] = {}
        rows = []
        for line in text.splitlines():
            if line.startswith("# "):
                key, _, value = line[2:].partition(": ")
                meta[key] = json.loads(value)
            elif line.strip():
                rows.append(line)
        reader = csv.DictReader(rows)
        if reader.fieldnames is None or not set(_CSV_COLUMNS) <= set(reader.fieldnames):
            raise ValueError(f"{path!r} is not a gluon-lrfinder CSV: expected columns {_CSV_COLUMNS}")
        lrs, losses, smoothed, valid_lrs, valid_losses = [], [], [], [], []
        for row in reader:
            lrs.append(float(row["lr"]))
            losses.append(_to_float(row["loss"]))
            smoothed.append(_to_float(row["smoothed_loss"]))
            if row.get(_CSV_VALID):
                valid_lrs.append(lrs[-1])
                valid_losses.append(_to_float(row[_CSV_VALID]))
        return cls(
            lrs=lrs,
            losses=losses,
            smoothed=smoothed,
            settings=meta.get("settings") or {},
            versions=meta.get("versions") or {},
            stop_reason=meta.get("stop_reason"),
            valid_lrs=valid_lrs,
            valid_losses=valid_losses,
            data_problem=meta.get(DATA_PROBLEM),
        )
