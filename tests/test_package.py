"""Package-level rules: the public names, the layers, a core that imports without MXNet, and an
MXNet left to the user."""
import ast
import pkgutil
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gluon_lrfinder

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(gluon_lrfinder.__file__).parent

#: Layers, lowest first: a module may import only from its own layer or lower ones, and this
#: holds for every import, those inside functions included (only ``if TYPE_CHECKING:`` blocks,
#: which never run, are left out).
LAYERS = {
    "_mxnet": 0, "_signals": 0,
    "core": 1,
    "schedules": 2,
    "engine": 3,
    "studies": 4,
    "finder": 5, "demo": 5,
    "integrations": 6,
    "__main__": 7,
}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2:  # the package itself: loads the layers' public names
        return 7
    return LAYERS[parts[1]]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = PACKAGE.parent / dotted.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(path: Path) -> set:
    """Every package module ``path`` imports, at module level or inside functions
    (``from pkg import submodule`` counts as the submodule)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("gluon_lrfinder"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gluon_lrfinder"))
    found.discard(name)
    return found


def _graph() -> dict:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_layer_check_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from gluon_lrfinder.engine import learner\n", encoding="utf-8")
    hidden = tmp_path / "hidden.py"
    hidden.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import gluon_lrfinder.finder\n",
                      encoding="utf-8")
    # the probes are read as if they were core modules
    for probe_path, expected in ((probe, {"gluon_lrfinder.engine.learner"}), (hidden, set())):
        moved = PACKAGE / "core" / probe_path.name
        moved.write_text(probe_path.read_text(encoding="utf-8"), encoding="utf-8")
        try:
            assert _imports(moved) == expected
        finally:
            moved.unlink()


def test_every_import_respects_the_layers():
    wrong = [
        f"{mod} (layer {_layer(mod)}) imports {dep} (layer {_layer(dep)})"
        for mod, deps in _graph().items() for dep in deps
        if _layer(dep) > _layer(mod)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = _graph()
    known = set(graph)
    state = {}

    def walk(mod, stack):
        state[mod] = "open"
        for dep in sorted(d for d in graph.get(mod, ()) if d in known):
            if state.get(dep) == "open":
                pytest.fail("import circle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                walk(dep, stack + [dep])
        state[mod] = "done"

    for mod in sorted(graph):
        if mod not in state:
            walk(mod, [mod])


def test_core_imports_without_mxnet():
    """Every module of gluon_lrfinder.core, and the package itself, with MXNet made unimportable."""
    core = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE / "core")], "gluon_lrfinder.core."))
    assert "gluon_lrfinder.core.rules" in core and "gluon_lrfinder.core.plotting" in core
    code = (
        "import sys\n"
        "sys.modules['mxnet'] = None  # any 'import mxnet' now raises ImportError\n"
        "import gluon_lrfinder\n"
        + "".join(f"import {m}\n" for m in core)
        + "from gluon_lrfinder import LRCurve, StoppingCriteria\n"
        + "print('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


@pytest.mark.parametrize("old", ["learner", "suggest", "sweep", "plotting", "schedule_wrappers", "rescale",
                                 "distributed", "datasets", "curve"])
def test_old_flat_module_paths_are_gone(old):
    with pytest.raises(ModuleNotFoundError):
        __import__(f"gluon_lrfinder.{old}")
    assert not hasattr(gluon_lrfinder, "MOVED")


def test_the_public_surface_is_small_and_resolves():
    names = [n for n in gluon_lrfinder.__all__ if n != "__version__"]
    assert len(names) <= 16
    for name in gluon_lrfinder.__all__:
        assert getattr(gluon_lrfinder, name) is not None, name
    assert gluon_lrfinder.__version__.count(".") == 2
    with pytest.raises(AttributeError, match="no attribute 'plot_curve'"):
        gluon_lrfinder.plot_curve  # noqa: B018 - a name of the old, wider surface


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
                                       "from gluon_lrfinder.schedules.cycles import OneCycleSchedule"])
@pytest.mark.parametrize("fake_version", [None, "2.0.0b1", "1.5.0"])
@pytest.mark.slow  # nine interpreters
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
    proc = _run_without_real_mxnet(
        "from gluon_lrfinder.integrations.cli import main; raise SystemExit(main(['--no-progress']))", tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: MXNet is not installed" in proc.stderr and "mxnet-cu112" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # builds a wheel
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
    assert not [r for r in unconditional if r.startswith("scikit-learn")], requires  # the demo's extra only
    assert any(r.startswith("scikit-learn") and "extra == \"demo\"" in r for r in requires), requires


def test_without_scikit_learn_only_the_demo_data_is_missing_and_it_says_how_to_get_it(tmp_path):
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import gluon_lrfinder.demo as demo\n"
            "from gluon_lrfinder import LRFinder, Learner, ContinuousBatchSampler\n"
            "demo.load_task('synthetic')\n"  # data the code makes itself needs no scikit-learn
            "demo.load_task('digits')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: the bundled data set 'digits' comes with scikit-learn"), last
    assert "pip install 'gluon-lrfinder[demo]'" in last

