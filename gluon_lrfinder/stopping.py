"""The stopping rule of the range test. No MXNet import."""
from __future__ import annotations

import math
from typing import Any, Dict, Optional

from ._validate import check_greater, check_int, check_unit_interval
from .smoothing import ema_step

__all__ = ["StoppingCriteria", "LRFinderStoppingCriteria"]


class StoppingCriteria:
    """Decide, loss by loss, when the range test has diverged.

    Called once per iteration with that iteration's loss; returns ``True`` when the sweep should
    stop: either the loss is NaN or infinite (at once, whatever ``min_iter``), or at least
    ``min_iter`` losses have been seen and the causal moving average of the loss exceeds
    ``threshold`` times the first loss.

    Parameters
    ----------
    smoothing : float, default 0.3
        Weight of the history in the moving average, in [0, 1).
    min_iter : int, default 20
        Minimum number of iterations before a divergence stop, >= 1.
    threshold : float, default 2.0
        Divergence factor over the first loss, > 1.

    Attributes
    ----------
    first_loss, smoothed_loss : float or None
        The first loss and the current moving average.
    num_seen : int
        Losses seen so far.
    reason : str or None
        Why it said stop: ``"non-finite loss"`` or ``"diverged"``.

    Examples
    --------
    >>> stop = StoppingCriteria(smoothing=0.0, min_iter=2, threshold=2.0)
    >>> [stop(x) for x in (1.0, 1.5, 2.5)]
    [False, False, True]
    >>> stop.reason
    'diverged'
    >>> StoppingCriteria()(float("nan"))
    True
    """

    def __init__(self, smoothing: float = 0.3, min_iter: int = 20, threshold: float = 2.0) -> None:
        self.smoothing = check_unit_interval("smoothing", smoothing)
        self.min_iter = check_int("min_iter", min_iter, 1)
        self.threshold = check_greater("threshold", threshold, 1.0)
        self.reset()

    def reset(self) -> None:
        """Forget every loss seen, ready for a new sweep."""
        self.first_loss: Optional[float] = None
        self.smoothed_loss: Optional[float] = None
        self.num_seen = 0
        self.reason: Optional[str] = None

    def __call__(self, loss: float) -> bool:
        loss = float(loss)
        self.num_seen += 1
        if not math.isfinite(loss):
            self.reason = "non-finite loss"
            return True
        if self.first_loss is None:
            self.first_loss = loss
        self.smoothed_loss = ema_step(self.smoothed_loss, loss, self.smoothing)
        if self.num_seen >= self.min_iter and self.smoothed_loss > self.threshold * self.first_loss:
            self.reason = "diverged"
            return True
        return False

    def state_dict(self) -> Dict[str, Any]:
        """Settings and progress, for logging or resuming."""
        return {
            "smoothing": self.smoothing,
            "min_iter": self.min_iter,
            "threshold": self.threshold,
            "first_loss": self.first_loss,
            "smoothed_loss": self.smoothed_loss,
            "num_seen": self.num_seen,
            "reason": self.reason,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        fresh = type(self)(state["smoothing"], state["min_iter"], state["threshold"])
        self.__dict__.update(fresh.__dict__)
        self.first_loss = state["first_loss"]
        self.smoothed_loss = state["smoothed_loss"]
        self.num_seen = state["num_seen"]
        self.reason = state["reason"]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(smoothing={self.smoothing}, min_iter={self.min_iter}, "
            f"threshold={self.threshold})"
        )


#: Alias kept so code written against the MXNet "Learning Rate Finder" tutorial keeps working.
LRFinderStoppingCriteria = StoppingCriteria
