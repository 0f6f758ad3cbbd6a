"""What the schedules and their wrappers share: the update-count check, the refusal of an
optimizer's overwrite of the peak, ``optimizer_params()`` and the repr.

A private module of :mod:`gluon_lrfinder.schedules`; nothing here is public.
"""
from __future__ import annotations

import sys
from typing import Any

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from mxnet.lr_scheduler import LRScheduler
from mxnet.optimizer import Optimizer

from ..core._validate import check_number


def _check_update(num_update: Any) -> float:
    n = check_number("num_update", num_update)
    if n < 0:
        raise ValueError(f"num_update must be >= 0, got {num_update!r}")
    return n


def _refuse_optimizer_overwrite(schedule: LRScheduler, value: float) -> None:
    """Raise when ``value`` comes from an Optimizer's constructor and differs from the peak.

    MXNet gives no public way to tell this assignment from any other: ``Optimizer.__init__``
    runs ``self.lr_scheduler.base_lr = learning_rate`` when the two differ. So the frame that
    assigned ``base_lr`` (two up: this function, then the ``base_lr`` setter) is compared with
    that constructor's code object. Only that one assignment is refused.
    """
    frame = sys._getframe(2)
    if frame.f_code is not Optimizer.__init__.__code__ or value == schedule.base_lr:
        return
    optimizer = type(frame.f_locals.get("self")).__name__
    raise ValueError(
        f"learning_rate={value!r} of the {optimizer} optimizer would replace the peak "
        f"base_lr={schedule.base_lr!r} of {type(schedule).__name__} (MXNet overwrites "
        "lr_scheduler.base_lr with the optimizer's learning_rate, and Adam, RMSProp, ... set one "
        "by default); pass the schedule's own rate: gluon.Trainer(params, optimizer, "
        "schedule.optimizer_params(...)), i.e. {'lr_scheduler': schedule, 'learning_rate': "
        "schedule.base_lr}; for another peak, build the schedule with it"
    )


class _TrainerParams:
    """``optimizer_params()`` shared by the schedules and the wrappers."""

    base_lr: float

    def optimizer_params(self, **params: Any) -> dict:
        """The ``optimizer_params`` dict for ``gluon.Trainer`` that trains at this schedule's values.

        ``{"lr_scheduler": self, "learning_rate": self.base_lr, **params}``: with the
        schedule's own ``base_lr`` as ``learning_rate``, no optimizer (not even one with a
        default ``learning_rate``, such as Adam's 0.001) replaces the schedule's peak.

        Parameters
        ----------
        **params
            Further optimizer parameters (``momentum``, ``wd``, ``beta1``...); not
            ``learning_rate`` or ``lr_scheduler``.

        Raises
        ------
        TypeError
            ``learning_rate`` or ``lr_scheduler`` is among ``params``.

        Examples
        --------
        >>> import mxnet as mx
        >>> from gluon_lrfinder import OneCycleSchedule
        >>> s = OneCycleSchedule(max_lr=0.3, total_steps=100)
        >>> s.optimizer_params(wd=1e-4) == {"lr_scheduler": s, "learning_rate": 0.3, "wd": 1e-4}
        True
        >>> net = mx.gluon.nn.Dense(1); net.initialize()
        >>> trainer = mx.gluon.Trainer(net.collect_params(), "adam", s.optimizer_params())
        """
        for name in ("learning_rate", "lr_scheduler"):
            if name in params:
                raise TypeError(
                    f"optimizer_params() sets {name} itself, got {name}={params[name]!r}; "
                    "to train at another peak, build the schedule with it"
                )
        return {"lr_scheduler": self, "learning_rate": self.base_lr, **params}


def _repr(obj: Any) -> str:
    """``Name(field=value, ...)`` over the class's ``_fields``, floats to 4 significant digits."""
    parts = []
    for name in obj._fields:
        value = getattr(obj, name)
        parts.append(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value!r}")
    peak = getattr(obj, "peak", None)
    if peak is not None and obj.base_lr != peak:  # rescaled by setting base_lr
        parts.append(f"base_lr={obj.base_lr:.4g}")
    return f"{type(obj).__name__}({', '.join(parts)})"
