"""Shared fixtures: where the FSDD copy for tests lives, a loopback server for downloads, and quiet
TensorFlow logs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from .loopback import LoopbackServer  # noqa: E402

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


@pytest.fixture(scope="session")
def loopback() -> Iterator[LoopbackServer]:
    served = LoopbackServer()
    yield served
    served.close()


@pytest.fixture
def server(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    """The loopback server with no routes yet, reached without any proxy."""
    for proxy in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    loopback.routes.clear()
    return loopback
