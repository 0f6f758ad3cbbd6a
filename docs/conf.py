"""Sphinx configuration of the gluon-lrfinder documentation site (``make docs``).

The site is made of the Markdown guides in ``docs/*.md`` (MyST), the tutorial notebooks in
``tutorials/`` (reached through the ``docs/tutorials`` symlink), executed at build time by
myst-nb in their fast, offline mode, and an API reference generated from the NumPy-style
docstrings (autodoc + napoleon).
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The notebooks read these (see their "Data and model" cell): a small budget, and the bundled
# digits data instead of a CIFAR-10 download. Export them as "0" to build with the full runs.
os.environ.setdefault("GLUON_LRFINDER_TUTORIAL_FAST", "1")
os.environ.setdefault("GLUON_LRFINDER_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.pop("MPLBACKEND", None)  # the kernels draw with the inline backend, as in Jupyter

import gluon_lrfinder  # noqa: E402

project = "gluon-lrfinder"
author = "the gluon-lrfinder authors"
copyright = "2026, the gluon-lrfinder authors"
release = version = gluon_lrfinder.__version__

extensions = [
    "myst_nb",  # Markdown (MyST) pages and executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # NumPy-style docstrings
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "**/.ipynb_checkpoints", "img"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# MyST. A guide may start at "##" (distributed.md does, as it was cut from the README): not an error.
suppress_warnings = ["myst.header"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# myst-nb: run every notebook at build time; a failing cell fails the build
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# autodoc + napoleon
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"gluon-lrfinder {release}"
html_static_path = []
