"""A quiet start: TensorFlow imported without its start-up log lines, for every entry point (the
command line, the examples, the experiments and the benchmarks).

TensorFlow 2.21 logs oneDNN, CUDA probing (``failed call to cuInit`` on a machine without a GPU)
and device discovery whatever ``TF_CPP_MIN_LOG_LEVEL`` says (measured: with it set to 2 in the
environment, 7 lines), and some "E" lines while working. A user who sets it to 0 (info) or 1
(warnings) gets them all.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

QUIET_LEVEL = "3"
"""``TF_CPP_MIN_LOG_LEVEL`` set when the user set none: 3 also holds back the "E" lines TensorFlow
logs while working (measured: ``oneDNN supports DT_INT32 only on platforms with AVX-512`` during
``generate``), which are notes, not errors; a real failure still raises, and the command line
prints it in one line."""


def logs_wanted() -> bool:
    """Whether the user asked for TensorFlow's info (0) or warning (1) log lines."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2").strip() in ("0", "1")


def quiet_tensorflow(first_work: Callable[[], Any] = lambda: None) -> Any:
    """Imports TensorFlow, runs ``first_work`` (for ``train``, the creation of its distribution
    strategy, which must precede any op) and one op, with their log lines held back; returns what
    ``first_work`` returns.

    The lines go to a temporary file instead of stderr, shown only if the import fails.
    Python-side TensorFlow and absl loggers are set to errors only. Does nothing but
    ``first_work`` when the user set ``TF_CPP_MIN_LOG_LEVEL`` to 0 or 1, or when TensorFlow was
    already imported.
    """
    if logs_wanted() or "tensorflow" in sys.modules:
        return first_work()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LEVEL)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf

            result = first_work()
            tf.constant(0.0) + 0.0  # device discovery logs on the first op
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    tf.get_logger().setLevel("ERROR")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover
        pass
    return result
