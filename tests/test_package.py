"""Package-level rules: the public names, the layers, a core that imports without MXNet, and an
MXNet left to the user (issue 18)."""
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

#: Layers, lowest first: a module may import (at module level) only from its own layer or lower
#: ones. Lazy imports inside functions may reach up (``LRCurve.plot`` -> plotting); they are
#: not part of the layering.
LAYERS = {
    "core": 0, "_mxnet": 0, "_signals": 0,
    "engine": 1, "plotting": 1, "schedules": 1, "schedule_wrappers": 1, "rescale": 1,
    "studies": 2,
    "finder": 3,
    "integrations": 4, "distributed": 4, "__main__": 4,
}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2:  # the package itself: imports the core eagerly, the rest lazily
        return 5
    return LAYERS[parts[1]]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _eager_imports(path: Path) -> set:
    """The package modules ``path`` imports at module level (not in functions, not TYPE_CHECKING)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.startswith("gluon_lrfinder"):
                    found.add(target)
                    for alias in node.names:  # ``from . import x``: x may be a module
                        if (PACKAGE.parent / (target.replace(".", "/") + f"/{alias.name}.py")).exists():
                            found.add(f"{target}.{alias.name}")
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("gluon_lrfinder"))

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    found.discard(name)
    return found


def _graph() -> dict:
    return {_module_name(p): _eager_imports(p) for p in PACKAGE.rglob("*.py")}


def test_module_level_imports_respect_the_layers():
    wrong = [
        f"{mod} (layer {_layer(mod)}) imports {dep} (layer {_layer(dep)})"
        for mod, deps in _graph().items() for dep in deps
        if dep.count(".") >= 1 and _layer(dep) > _layer(mod)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = _graph()
    known = set(graph)

    def deps(mod):  # a package import runs its __init__: count it as the package module
        return {d for d in graph.get(mod, ()) if d in known}

    state = {}

    def walk(mod, stack):
        state[mod] = "open"
        for dep in deps(mod):
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
    assert "gluon_lrfinder.core.rules" in core and "gluon_lrfinder.core.grid" in core
    code = (
        "import sys\n"
        "sys.modules['mxnet'] = None  # any 'import mxnet' now raises ImportError\n"
        "import gluon_lrfinder, gluon_lrfinder.suggest, gluon_lrfinder.curve, gluon_lrfinder.stopping\n"
        + "".join(f"import {m}\n" for m in core)
        + "from gluon_lrfinder import LRCurve, StoppingCriteria, summarize_grid, summarize_sweeps\n"
        + "print('matplotlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


def test_old_module_paths_still_import():
    import gluon_lrfinder.learner
    import gluon_lrfinder.sweep
    from gluon_lrfinder.core import plan, rules
    from gluon_lrfinder.engine import learner
    from gluon_lrfinder.suggest import SUGGESTERS, report, suggest

    assert gluon_lrfinder.learner is learner and gluon_lrfinder.sweep is plan
    assert SUGGESTERS is rules.SUGGESTERS and callable(report) and callable(suggest)
    for old in gluon_lrfinder.MOVED:
        __import__(f"gluon_lrfinder.{old}")


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
    proc = _run_without_real_mxnet("from gluon_lrfinder.cli import main; raise SystemExit(main(['--no-progress']))",
                                   tmp_path)
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
