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
import errno
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
    except OSError as error:
        if error.errno is None or str(path) in str(error):
            raise
        # "File too large", "No space left on device", ... name the file that was being written
        raise OSError(
            error.errno, f"{path}: cannot be written ({error.strerror or os.strerror(error.errno)})"
        ) from error
    finally:
        tmp.unlink(missing_ok=True)


class FolderInUseError(RuntimeError):
    """Another running process holds the folder's lock (see `folder_lock`); one line."""


_HELD: dict[Path, int] = {}  # lock files this process holds -> nesting depth


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Holds ``folder/.lock`` for the block, so one process at a time works in ``folder``.

    The lock is an advisory ``flock`` on the file, which the system releases when its process
    ends however it ends (``kill -9`` included): a lock left by a crashed process is taken over,
    never waited for. The file names the holder's PID for the message, and is removed on
    release. Re-entrant within one process. Where ``fcntl`` is missing (Windows), no lock is
    taken.

    Raises:
      FolderInUseError: naming the folder and the PID of the running process that holds it.
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    if lock in _HELD:
        _HELD[lock] += 1
        try:
            yield lock
        finally:
            _HELD[lock] -= 1
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield lock
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise FolderInUseError(
                f"{folder} is in use by another running process (PID {holder}); wait for it to "
                "finish or stop it, or use another folder"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file a releasing holder unlinked while we waited for it
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[lock] = 1
    try:
        yield lock
    finally:
        del _HELD[lock]
        lock.unlink(missing_ok=True)
        os.close(fd)  # closing releases the flock


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
