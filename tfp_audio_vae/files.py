"""Writing files so that a crash never leaves a half-written one behind.

Every writer in the package (WAVs, models, plots, results) goes through `atomic_output`:

```python
with atomic_output("runs/sample.wav") as tmp:
    soundfile.write(tmp, wave, 8000)
# runs/sample.wav now exists, complete; had `write` raised, it would be untouched.
```
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; renames it onto ``path`` only if the block succeeds.

    The temporary file lives in the same folder (so the final `os.replace` is atomic) and its name
    ends with ``path``'s name, so writers that look at the suffix (``.wav``, ``.keras``,
    ``.weights.h5``) still see it. The file is flushed to disk before the rename. If the block
    raises, the temporary file is removed and ``path`` keeps whatever it held before.

    Args:
      path: the file to create or replace; its parent folders are created if missing.
    Yields:
      the temporary path to write to (not yet existing).
    Raises:
      FileNotFoundError: if the block finished without creating the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{secrets.token_hex(6)}-{path.name}")
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_keras(model: Any, path: str | os.PathLike[str]) -> Path:
    """Saves a Keras model as one ``.keras`` file through `atomic_output`.

    Raises:
      ValueError: if ``path`` does not end in ``.keras`` (Keras' own format, loadable in safe mode).
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a model file must end in .keras")
    with atomic_output(path) as tmp:
        model.save(tmp)
    return path
