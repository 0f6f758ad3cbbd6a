"""The MXNet install the MXNet-backed modules need, checked once with an error that says what to do.

gluon-lrfinder does not install MXNet itself: MXNet ships as several distributions (``mxnet`` for
CPUs, ``mxnet-cu112``, ``mxnet-cu117``, ... for CUDA) that all provide the same ``mxnet`` module,
and a package that required one of them would make pip replace a user's GPU build with it (which
is why GluonCV and GluonNLP leave MXNet out of their requirements too). Importing this module
imports MXNet and checks its version; every MXNet-backed module of the package imports it first.
The pure parts (sweeps, smoothing, stopping rules, suggestions, curves) never do.
"""
from __future__ import annotations

import re
from types import ModuleType
from typing import Tuple

__all__ = ["SUPPORTED", "VARIANTS", "require_mxnet", "mxnet_problem"]

#: The MXNet release the package is written and tested against (the last MXNet 1.x release).
SUPPORTED = "1.9.1"
#: Versions accepted: 1.9.1 and later 1.x releases (MXNet 2 changed the Gluon API).
_LOWEST, _BELOW = (1, 9, 1), (2, 0, 0)
#: The pip distributions that provide the ``mxnet`` module: pick one for your hardware.
VARIANTS = ("mxnet", "mxnet-cu112", "mxnet-cu117", "mxnet-native", "mxnet-mkl")


def _version_tuple(version: str) -> Tuple[int, ...]:
    """``"1.9.1"`` -> ``(1, 9, 1)``; pre-release tails (``2.0.0b1``) count as that release."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _install_hint() -> str:
    names = ", ".join(f"{name}=={SUPPORTED}" for name in VARIANTS)
    return (
        f"gluon-lrfinder needs MXNet {SUPPORTED} and leaves the choice of build to you: install the one "
        f"for your hardware, e.g. `pip install mxnet=={SUPPORTED}` (CPU) or `pip install mxnet-cu112=={SUPPORTED}` "
        f"(CUDA 11.2); the builds are {names} (or `pip install gluon-lrfinder[cpu]`)"
    )


def mxnet_problem(version: str) -> str:
    """Why MXNet ``version`` cannot be used ("" when it can).

    Examples
    --------
    >>> mxnet_problem("1.9.1")
    ''
    >>> mxnet_problem("2.0.0b1").split(";")[0]
    'gluon-lrfinder supports MXNet 1.9.1 (1.x from 1.9.1 on), found mxnet 2.0.0b1'
    """
    found = _version_tuple(version)
    if _LOWEST <= found < _BELOW:
        return ""
    return (
        f"gluon-lrfinder supports MXNet {SUPPORTED} (1.x from {SUPPORTED} on), found mxnet {version}; "
        + _install_hint()
    )


def require_mxnet() -> ModuleType:
    """Import MXNet, or raise one ``ImportError`` naming the builds to install and the version.

    Examples
    --------
    >>> require_mxnet().__version__
    '1.9.1'
    """
    try:
        import mxnet
    except ImportError as err:
        raise ImportError(f"MXNet is not installed ({err}). " + _install_hint()) from err
    problem = mxnet_problem(str(getattr(mxnet, "__version__", "0")))
    if problem:
        raise ImportError(problem)
    return mxnet


require_mxnet()
