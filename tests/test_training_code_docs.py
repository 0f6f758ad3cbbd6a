"""docs/your_training_code.md: every ``python`` block runs as written, each in a fresh process
(NumPy mode and AMP change MXNet for the whole process), and its printed output is what the
page shows where the page shows it."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "your_training_code.md"


def blocks():
    """``(python_code, text_block_after_it_or_None)`` for each python block of the guide."""
    found = re.findall(r"```python\n(.*?)```\s*(?:```text\n(.*?)```)?", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    return [(code, text or None) for code, text in found]


def _words(text):
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("index", range(len(blocks())))
def test_guide_example_runs(index, tmp_path):
    code, shown = blocks()[index]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if shown is not None:  # the shown output, up to an ellipsis, is what the code prints
        printed = _words(proc.stdout)
        for part in _words(shown).split("..."):
            assert part.strip() in printed, part


def test_the_guide_covers_every_case():
    text = GUIDE.read_text(encoding="utf-8")
    for needle in ("NDArrayIter", "ImageRecordIter", "npx.set_np()", "amp.init_trainer", "grad_req",
                   "accumulation_steps", "sparse_label=False", "NaN", "fit_batch", "clip_global_norm",
                   "detach()", "trainer.step(1)", "mixup", "TNC"):
        assert needle in text, needle
    assert len(blocks()) >= 11
