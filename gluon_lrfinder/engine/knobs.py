"""The optimizer's knobs a study turns: learning rate, weight decay, momentum (or ``beta1``).

Plain attribute work on a ``gluon.Trainer`` and its optimizer: how
:meth:`~gluon_lrfinder.LRFinder.apply` and the studies set what a result says.

Examples
--------
>>> class Opt:                      # any object with the attributes of an MXNet optimizer
...     lr_scheduler, wd, momentum = None, 0.0, 0.9
>>> momentum_attribute(type("SGD", (Opt,), {})())
'momentum'
"""
from __future__ import annotations

import logging
from typing import Any, Dict

from ..core._validate import check_positive
from ..schedules.rescale import rescale_schedule

__all__ = ["momentum_attribute", "set_learning_rate", "set_knobs", "read_knobs"]

logger = logging.getLogger(__name__)

#: Optimizer attribute that plays the role of momentum, by optimizer class name.
_MOMENTUM_ATTRIBUTES = {
    "SGD": "momentum", "NAG": "momentum", "Signum": "momentum", "LARS": "momentum", "LBSGD": "momentum",
    "DCASGD": "momentum", "Adam": "beta1", "Adamax": "beta1", "Nadam": "beta1", "LAMB": "beta1", "FTML": "beta1",
}


def momentum_attribute(optimizer: Any) -> str:
    """``"momentum"`` or ``"beta1"``: the optimizer's momentum-like knob, or a ValueError.

    Examples
    --------
    >>> import mxnet as mx
    >>> momentum_attribute(mx.optimizer.Adam()), momentum_attribute(mx.optimizer.NAG())
    ('beta1', 'momentum')
    """
    for cls in type(optimizer).__mro__:
        if cls.__name__ in _MOMENTUM_ATTRIBUTES:
            return _MOMENTUM_ATTRIBUTES[cls.__name__]
    raise ValueError(
        f"momentum: the {type(optimizer).__name__} optimizer has neither a momentum nor a beta1; "
        f"use one of {', '.join(sorted(_MOMENTUM_ATTRIBUTES))} or leave momentum=None"
    )


def set_learning_rate(trainer: Any, lr: float) -> float:
    """Set ``lr`` (> 0) on the trainer; with an ``lr_scheduler`` attached, rescale the whole schedule.

    The schedule's reference rate (its peak, or the ``base_lr`` it was built with) becomes
    ``lr``: this package's schedules, GluonCV's ``LRSequential``, MXNet's schedulers with their
    warm-up (:func:`gluon_lrfinder.schedules.rescale.rescale_schedule`); a scheduler that did not scale is
    left as it was and a ``ValueError`` says what to do. Returns the rate set.

    Examples
    --------
    >>> import mxnet as mx
    >>> net = mx.gluon.nn.Dense(1, in_units=2)
    >>> net.initialize()
    >>> trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    >>> set_learning_rate(trainer, 0.05), trainer.learning_rate
    (0.05, 0.05)
    """
    lr = check_positive("lr", lr)
    scheduler = trainer.optimizer.lr_scheduler
    if scheduler is not None:
        factor = rescale_schedule(scheduler, lr, trainer.optimizer.num_update)  # checked, or refused
        logger.info("rescaled the trainer's lr_scheduler by %.3g: its reference rate is now %.3g", factor, lr)
    else:
        trainer.set_learning_rate(lr)
        logger.info("set the trainer's learning rate to %.3g", lr)
    return float(lr)


def read_knobs(optimizer: Any, momentum: bool = False) -> Dict[str, float]:
    """``{"weight_decay": wd}`` and, with ``momentum``, ``"momentum"``: the optimizer's current values."""
    values = {"weight_decay": float(optimizer.wd)}
    if momentum:
        values["momentum"] = float(getattr(optimizer, momentum_attribute(optimizer)))
    return values


def set_knobs(optimizer: Any, values: Dict[str, float]) -> None:
    """Set ``values["weight_decay"]`` and ``values["momentum"]`` (either may be absent) on the optimizer."""
    if "weight_decay" in values:
        optimizer.wd = values["weight_decay"]
    if "momentum" in values:
        setattr(optimizer, momentum_attribute(optimizer), values["momentum"])
