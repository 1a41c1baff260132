"""What every benchmark records about the machine it ran on, beside its figures."""

from __future__ import annotations

import datetime
import os
import platform
from types import ModuleType


def environment(*modules: ModuleType) -> dict[str, str | int | float]:
    """Date, Python, platform, CPU count, load at start, and each module's ``__version__``."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_start": os.getloadavg()[0],
        **{module.__name__: module.__version__ for module in modules},
    }
