"""Package-level rules: the public names, and a core that imports without MXNet."""
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gluon_lrfinder

ROOT = Path(__file__).resolve().parent.parent

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


def _run_without_real_mxnet(code, tmp_path, fake_version=None):
    """Run ``code`` in a fresh interpreter where ``import mxnet`` fails (or finds a fake of version
    ``fake_version``); returns the CompletedProcess."""
    if fake_version is None:
        prelude = "import sys; sys.modules['mxnet'] = None\n"  # makes `import mxnet` raise ImportError
    else:
        fake = tmp_path / "mxnet"
        fake.mkdir()
        (fake / "__init__.py").write_text(f"__version__ = {fake_version!r}\n")
        prelude = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)


def test_the_pure_core_imports_without_mxnet(tmp_path):
    proc = _run_without_real_mxnet("import gluon_lrfinder; from gluon_lrfinder import LRCurve; print('ok')", tmp_path)
    assert proc.stdout.split() == ["ok"], proc.stderr


@pytest.mark.parametrize("statement", ["from gluon_lrfinder import Learner", "import gluon_lrfinder.finder",
                                       "from gluon_lrfinder.schedules import OneCycleSchedule"])
@pytest.mark.parametrize("fake_version", [None, "2.0.0b1", "1.5.0"])
def test_mxnet_missing_or_unsupported_gives_one_clear_error(statement, fake_version, tmp_path):
    proc = _run_without_real_mxnet(statement, tmp_path, fake_version)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:"), proc.stderr[-2000:]
    for needle in ("mxnet==1.9.1", "mxnet-cu112", "mxnet-cu117", "MXNet 1.9.1"):
        assert needle in last, (needle, last)
    if fake_version is not None:
        assert f"found mxnet {fake_version}" in last


def test_the_cli_says_which_mxnet_to_install(tmp_path):
    proc = _run_without_real_mxnet("from gluon_lrfinder.cli import main; raise SystemExit(main(['--no-progress']))",
                                   tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: MXNet is not installed" in proc.stderr and "mxnet-cu112" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_wheel_leaves_mxnet_to_the_user(tmp_path):
    """A GPU user's mxnet-cu112 must survive `pip install gluon-lrfinder`: no bare mxnet requirement."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("gluon_lrfinder-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(name).decode()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    unconditional = [r for r in requires if "extra ==" not in r]
    assert not [r for r in unconditional if re.match(r"mxnet\b", r)], requires
    assert any(re.match(r"mxnet\s*\(?==1\.9\.1", r) and "extra == \"cpu\"" in r for r in requires), requires
    assert any(r.startswith("numpy") for r in unconditional)
