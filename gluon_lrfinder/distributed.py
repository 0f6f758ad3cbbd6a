"""``python -m gluon_lrfinder.distributed``: the launcher, and the reducers' old import path.

The reducers live in :mod:`gluon_lrfinder.engine.reducers`, the launcher in
:mod:`gluon_lrfinder.integrations.launcher`; this module keeps both importable from here.

Examples
--------
>>> from gluon_lrfinder.distributed import KVStoreMeanReducer, launch
"""
import sys

from .engine.reducers import *  # noqa: F401,F403
from .engine.reducers import __all__ as _reducers
from .integrations.launcher import LaunchResult, cluster_env, launch, main

__all__ = [*_reducers, "launch", "cluster_env", "LaunchResult", "main"]

if __name__ == "__main__":
    sys.exit(main())
