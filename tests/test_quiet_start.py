"""A quiet start, as a person sees it: the example, an experiment and a benchmark, run through
their real entry points in the user's environment (no ``TF_CPP_MIN_LOG_LEVEL``), print nothing of
TensorFlow's start-up on stderr (oneDNN, CUDA probing, device discovery), as the command does;
``TF_CPP_MIN_LOG_LEVEL=0`` brings the lines back. Slow: each start imports TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parents[1]


def start(*argv: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, *argv, "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**clean, "PYTHONPATH": str(REPO_ROOT), **env},
        timeout=300,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["examples/compare_priors.py"],
        ["-m", "experiments.levers"],
        ["-m", "benchmarks.bench_griffin_lim"],
    ],
)
def test_the_example_experiments_and_benchmarks_start_without_tensorflow_log_lines(argv):
    result = start(*argv)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == "" and "usage:" in result.stdout


def test_a_user_who_asks_for_tensorflow_logs_gets_them():
    result = start("examples/compare_priors.py", TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0 and "oneDNN" in result.stderr
