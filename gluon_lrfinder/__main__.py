"""``python -m gluon_lrfinder``: the same as the ``gluon-lrfinder`` command."""
import sys

from .cli import main

sys.exit(main())
