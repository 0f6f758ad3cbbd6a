"""The JSON caches of the advice benchmark (read one, empty when absent; write one atomically) and
its reports (print and write)."""
from __future__ import annotations

import json
import os
from typing import Any, Dict


def load_json(path: str) -> Dict[str, Any]:
    """The cache at ``path``, or ``{}`` when there is none yet."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {}


def save_json(path: str, data: Dict[str, Any], indent: int) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a killed run never leaves half a cache."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent, sort_keys=True)
    os.replace(tmp, path)


def publish(path: str, text: str) -> None:
    """Print a benchmark's report and write it to ``path`` (its folder made if needed)."""
    print(text)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
