"""``python -m gluon_lrfinder``: the same as the ``gluon-lrfinder`` command."""
import sys

from .integrations.cli import main

sys.exit(main())
