"""Package-level rules: the public names, and a core that imports without MXNet."""
import subprocess
import sys

import gluon_lrfinder

PURE = ["sweep", "smoothing", "stopping", "suggest", "repeats", "curve", "launcher"]


def test_pure_modules_do_not_import_mxnet():
    code = (
        "import sys\n"
        + "".join(f"import gluon_lrfinder.{m}\n" for m in PURE)
        + "import gluon_lrfinder\n"
        + "print('mxnet' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_names_resolve():
    for name in gluon_lrfinder.__all__:
        assert getattr(gluon_lrfinder, name) is not None, name
    assert gluon_lrfinder.__version__.count(".") == 2
