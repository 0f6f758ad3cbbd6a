"""The README's main example runs as written (in a temporary working directory)."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_main_example_runs(tmp_path, monkeypatch):
    example = next(b for b in python_blocks() if "ContinuousBatchSampler(" in b and "load_digits" in b)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(example, "README.md", "exec"), scope)
    lrs = [lr for lr, _ in scope["pairs"]]
    assert lrs[0] == 1e-6 and np.isclose(lrs[1] / lrs[0], 1.1)
    assert scope["finder"].curve.stop_reason == "diverged"
    assert lrs[0] <= scope["lr"] <= lrs[-1]
    assert scope["low"] < scope["high"]
    assert (tmp_path / "lr.png").exists()


def test_schedule_example_runs_after_the_main_example(tmp_path, monkeypatch):
    blocks = python_blocks()
    main = next(b for b in blocks if "ContinuousBatchSampler(" in b and "load_digits" in b)
    schedule_block = next(b for b in blocks if "OneCycleSchedule.from_finder" in b)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(main, "README.md", "exec"), scope)
    exec(compile(schedule_block, "README.md", "exec"), scope)
    schedule, trainer = scope["schedule"], scope["trainer"]
    assert (schedule.min_lr, schedule.max_lr) == scope["finder"].suggest_range()
    assert trainer.optimizer.lr_scheduler is schedule and trainer.learning_rate == schedule.min_lr
    assert schedule.base_lr == schedule.max_lr  # the peak was not replaced by a default learning_rate


ROOT = README.parent
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "api").glob("*.md"))]


def test_no_internal_issue_numbers_in_the_docs():
    texts = [(p, p.read_text(encoding="utf-8")) for p in PAGES + sorted((ROOT / "tutorials").glob("*.ipynb"))]
    found = [(p.name, m) for p, t in texts for m in re.findall(r"issue [0-9]+|issues? #?[0-9]+", t)]
    assert not found, found


def test_every_cited_benchmark_result_exists():
    cited = {m for p in PAGES for m in re.findall(r"benchmarks/results/([\w.-]+\.(?:md|txt|json|png))",
                                                  p.read_text(encoding="utf-8"))}
    missing = sorted(c for c in cited if not (ROOT / "benchmarks" / "results" / c).exists())
    assert not missing, missing


def test_every_python_block_compiles_and_imports_what_exists():
    """The blocks that are not run as a whole (your_training_code.md's are, in their own test):
    they compile, their gluon_lrfinder imports resolve, and find() is called with keywords."""
    import importlib

    for page in PAGES:
        for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
            compile(block, str(page), "exec")
            for module, names in re.findall(r"^from (gluon_lrfinder[\w.]*) import ([\w, ]+)", block, flags=re.M):
                imported = importlib.import_module(module)
                for name in (n.strip() for n in names.split(",")):
                    assert hasattr(imported, name), f"{page.name}: {module}.{name}"
            assert not re.search(r"\.find\((?!\s*\)|\s*\*\*|\s*lr_start=|\s*progress=)", block), page.name
            assert "SweepPlan" not in block, page.name


def test_no_line_starts_with_a_plus_mid_paragraph():
    """Markdown renders a line starting with '+ ' as a bullet: a stray one mid-sentence."""
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").split("\n")
        stray = [i + 1 for i, line in enumerate(lines) if line.startswith("+ ") and i and lines[i - 1].strip()]
        assert not stray, (page.name, stray)
