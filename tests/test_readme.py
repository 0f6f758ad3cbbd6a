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
