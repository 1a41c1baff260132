"""What every benchmark records about the machine it ran on, beside its figures."""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path
from types import ModuleType

from tfp_audio_vae.machine import machine_record


def environment(*modules: ModuleType) -> dict[str, str | int | float]:
    """Date, Python, platform, the machine (`machine_record`: CPU model, cores, load, measured
    matmul GFLOP/s) and each module's ``__version__``."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **machine_record(),
        **{module.__name__: module.__version__ for module in modules},
    }


def append_jsonl(path: str | Path, line: dict) -> None:
    """Appends ``line`` as one JSON line to ``path`` (its folder created when missing)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(line, default=float) + "\n")
