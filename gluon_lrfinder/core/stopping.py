"""The stopping rules of the range test. No MXNet import.

Two rules:

* :class:`StoppingCriteria` (what :meth:`~gluon_lrfinder.LRFinder.find` uses): divergence is
  measured against a *robust reference*, the median of the first ``reference_iter`` losses, and
  must last ``patience`` iterations in a row. One lucky first batch, or one unlucky batch later,
  cannot end the sweep before the loss had a chance to fall.
* :class:`LRFinderStoppingCriteria`: the rule of the MXNet "Learning Rate Finder" tutorial, with
  its defaults, kept under its name: the moving average against the *first* loss, one
  iteration above the threshold is enough. With small noisy batches a low first loss makes it
  stop after ~20 iterations (docs/evidence.md).

Examples
--------
>>> lucky_first = [0.26] + [0.45, 0.98, 0.5, 1.1, 0.45, 0.5, 0.4, 0.6, 0.5] * 3
>>> tutorial, robust = LRFinderStoppingCriteria(min_iter=5), StoppingCriteria(min_iter=5)
>>> [i for i, x in enumerate(lucky_first) if tutorial(x)][:1]    # stops at the 5th loss
[4]
>>> any(robust(x) for x in lucky_first)
False
"""
from __future__ import annotations

import math
import statistics
from enum import Enum
from typing import Any, Callable, Dict, List, Optional, Protocol, runtime_checkable

from ._validate import check_greater, check_int, check_unit_interval
from .smoothing import ema_step

__all__ = [
    "StopReason", "StoppingRule", "StoppingCriteria", "LRFinderStoppingCriteria", "as_stopping_rule", "rule_settings",
]


class StopReason(str, Enum):
    """Why a sweep ended (``LRCurve.stop_reason``); equal to its text, which saved curves hold.

    Examples
    --------
    >>> StopReason.DIVERGED == "diverged", str(StopReason.LR_END)
    (True, 'lr_end reached')
    >>> StopReason.parse("interrupted (KeyboardInterrupt)") is StopReason.INTERRUPTED
    True
    """

    DIVERGED = "diverged"
    NON_FINITE = "non-finite loss"
    LR_END = "lr_end reached"
    NUM_ITER = "num_iter reached"
    RULE = "stopping rule"
    INTERRUPTED = "interrupted (KeyboardInterrupt)"

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:  # shown as the text it stands for, as before the enum
        return repr(self.value)

    @classmethod
    def parse(cls, text: Optional[str]) -> Any:
        """The member for ``text``; other text (a custom rule's reason) and None as they are."""
        try:
            return cls(text)
        except ValueError:
            return text


@runtime_checkable
class StoppingRule(Protocol):
    """What :meth:`~gluon_lrfinder.LRFinder.find` needs of a stopping rule.

    ``rule(loss) -> bool`` is called once per iteration and says whether to stop; ``reset()``
    starts a new sweep; ``smoothed_loss`` is the value recorded in the curve's smoothed column
    (None when the rule smooths nothing); ``reason`` says why it stopped (None before).
    :class:`StoppingCriteria` and :class:`LRFinderStoppingCriteria` are such rules; a plain
    callable is wrapped by :func:`as_stopping_rule`.

    Examples
    --------
    >>> isinstance(StoppingCriteria(), StoppingRule), isinstance(abs, StoppingRule)
    (True, False)
    """

    smoothed_loss: Optional[float]
    reason: Optional[str]

    def __call__(self, loss: float) -> bool: ...

    def reset(self) -> None: ...


class _CallableRule:
    """A plain ``callable(loss) -> bool`` seen as a :class:`StoppingRule`."""

    def __init__(self, fn: Callable[[float], Any]) -> None:
        self.fn = fn
        self.reset()

    def reset(self) -> None:
        self.smoothed_loss: Optional[float] = None
        self.reason: Optional[str] = None
        reset = getattr(self.fn, "reset", None)  # the one place a custom rule is probed
        if callable(reset):
            reset()

    def __call__(self, loss: float) -> bool:
        stop = bool(self.fn(loss))
        if stop:
            self.reason = StopReason.RULE
        return stop

    def settings(self) -> Dict[str, Any]:
        return {"stopping": repr(self.fn)}

    def __repr__(self) -> str:
        return f"as_stopping_rule({self.fn!r})"


def as_stopping_rule(rule: Any) -> StoppingRule:
    """``rule`` itself when it is a :class:`StoppingRule`, a wrapper when it is only callable.

    Raises
    ------
    TypeError
        When ``rule`` is not callable.

    Examples
    --------
    >>> rule = as_stopping_rule(lambda loss: loss > 3.0)
    >>> rule(1.0), rule(4.0), rule.reason
    (False, True, 'stopping rule')
    """
    if isinstance(rule, StoppingRule):
        return rule
    if not callable(rule):
        raise TypeError(f"stopping must be a StoppingCriteria (or callable), got {type(rule).__name__}")
    return _CallableRule(rule)


def rule_settings(rule: StoppingRule) -> Dict[str, Any]:
    """The settings a curve records for ``rule``: its own ``settings()``, or its repr."""
    settings = getattr(rule, "settings", None)
    return dict(settings()) if callable(settings) else {"stopping": repr(rule)}


#: The constructor parameters of :class:`StoppingCriteria` (settings, not progress).
_PARAMETERS = ("smoothing", "min_iter", "threshold", "reference_iter", "patience")


class StoppingCriteria:
    """Decide, loss by loss, when the range test has diverged, without being fooled by noise.

    Returns ``True`` when the sweep should stop: at once on a NaN or infinite loss, or, after
    at least ``min_iter`` losses, once the causal moving average of the loss has stayed above
    ``threshold`` times the *reference loss* for ``patience`` iterations in a row. The
    reference is the median of the first ``reference_iter`` finite losses (of those seen so
    far, until there are that many), so a lucky first batch does not lower it and one noisy
    batch does not end the sweep.

    Parameters
    ----------
    smoothing : float, default 0.3
        Weight of the history in the moving average, in [0, 1).
    min_iter : int, default 20
        Minimum number of iterations before a divergence stop, >= 1.
    threshold : float, default 2.0
        Divergence factor over the reference loss, > 1.
    reference_iter : int, default 10
        How many first losses the reference is the median of, >= 1 (1 gives the first loss).
    patience : int, default 3
        Iterations in a row the moving average must stay above the threshold, >= 1.

    Attributes
    ----------
    reference_loss : float or None
        The median of the first ``reference_iter`` finite losses (so far).
    first_loss, smoothed_loss : float or None
        The first loss and the current moving average.
    num_seen : int
        Losses seen so far.
    reason : StopReason or None
        Why it said stop: ``StopReason.NON_FINITE`` or ``StopReason.DIVERGED``.

    Examples
    --------
    >>> stop = StoppingCriteria(smoothing=0.0, min_iter=2, threshold=2.0, patience=2)
    >>> [stop(x) for x in (1.0, 1.0, 1.0, 2.5, 1.0, 2.5, 3.0)]
    [False, False, False, False, False, False, True]
    >>> stop.reason, stop.reference_loss
    ('diverged', 1.0)
    """

    def __init__(
        self,
        smoothing: float = 0.3,
        min_iter: int = 20,
        threshold: float = 2.0,
        reference_iter: int = 10,
        patience: int = 3,
    ) -> None:
        self.smoothing = check_unit_interval("smoothing", smoothing)
        self.min_iter = check_int("min_iter", min_iter, 1)
        self.threshold = check_greater("threshold", threshold, 1.0)
        self.reference_iter = check_int("reference_iter", reference_iter, 1)
        self.patience = check_int("patience", patience, 1)
        self.reset()

    def reset(self) -> None:
        """Forget every loss seen, ready for a new sweep."""
        self.first_loss: Optional[float] = None
        self.smoothed_loss: Optional[float] = None
        self.num_seen = 0
        self.reason: Optional[str] = None
        self.first_losses: List[float] = []
        self.above = 0

    @property
    def reference_loss(self) -> Optional[float]:
        return statistics.median(self.first_losses) if self.first_losses else None

    def __call__(self, loss: float) -> bool:
        loss = float(loss)
        self.num_seen += 1
        if not math.isfinite(loss):
            self.reason = StopReason.NON_FINITE
            return True
        if self.first_loss is None:
            self.first_loss = loss
        self.smoothed_loss = ema_step(self.smoothed_loss, loss, self.smoothing)
        if len(self.first_losses) < self.reference_iter:
            self.first_losses.append(loss)
        reference = self.reference_loss
        assert reference is not None  # a finite loss was just recorded
        self.above = self.above + 1 if self.smoothed_loss > self.threshold * reference else 0
        if self.num_seen >= self.min_iter and self.above >= self.patience:
            self.reason = StopReason.DIVERGED
            return True
        return False

    def settings(self) -> Dict[str, Any]:
        """The rule's parameters (recorded in the curve's settings)."""
        return {"smoothing": self.smoothing, "min_iter": self.min_iter, "threshold": self.threshold,
                "reference_iter": self.reference_iter, "patience": self.patience}

    def state_dict(self) -> Dict[str, Any]:
        """Settings and progress, for logging or resuming."""
        state = dict(self.settings())
        state.update((k, v) for k, v in self.__dict__.items() if k not in state and k not in _PARAMETERS)
        return {k: list(v) if isinstance(v, list) else v for k, v in state.items()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        settings = self.settings()
        # a state saved before a setting existed restores with that setting's default
        fresh = type(self)(**{k: state[k] for k in settings if k in state})
        self.__dict__.update(fresh.__dict__)
        for key in self.__dict__:
            if key not in settings and key in state:
                value = state[key]
                setattr(self, key, list(value) if isinstance(value, list) else value)
        self.reason = StopReason.parse(self.reason)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


class LRFinderStoppingCriteria(StoppingCriteria):
    """The MXNet tutorial's stopping rule: :class:`StoppingCriteria` against the *first* loss, no patience.

    That is ``reference_iter=1, patience=1``: stop at once on a NaN or infinite loss, or, after
    ``min_iter`` losses, as soon as the moving average exceeds ``threshold`` times the first
    loss. Kept for code written against the tutorial (``stopping=LRFinderStoppingCriteria()``);
    with small noisy batches a low first loss makes it stop early (docs/evidence.md).

    Parameters
    ----------
    smoothing : float, default 0.3
        Weight of the history in the moving average, in [0, 1).
    min_iter : int, default 20
        Minimum number of iterations before a divergence stop, >= 1.
    threshold : float, default 2.0
        Divergence factor over the first loss, > 1.

    Examples
    --------
    >>> stop = LRFinderStoppingCriteria(smoothing=0.0, min_iter=2, threshold=2.0)
    >>> [stop(x) for x in (1.0, 1.5, 2.5)]
    [False, False, True]
    >>> stop.reason
    'diverged'
    """

    def __init__(self, smoothing: float = 0.3, min_iter: int = 20, threshold: float = 2.0) -> None:
        super().__init__(smoothing, min_iter, threshold, reference_iter=1, patience=1)

    def settings(self) -> Dict[str, Any]:
        """The rule's parameters (recorded in the curve's settings)."""
        return {"smoothing": self.smoothing, "min_iter": self.min_iter, "threshold": self.threshold}
