"""Shared fixtures: where the FSDD copy for tests lives, and quiet TensorFlow logs."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fsdd_root() -> Path:
    """The FSDD folder (holding ``recordings/``) named by ``TFP_AUDIO_VAE_FSDD``, else ``../shared/fsdd``."""
    root = Path(os.environ.get("TFP_AUDIO_VAE_FSDD", REPO_ROOT.parent / "shared" / "fsdd"))
    if not (root / "recordings").is_dir():
        pytest.fail(
            f"FSDD not found at {root}: set TFP_AUDIO_VAE_FSDD to a folder holding recordings/"
        )
    return root
