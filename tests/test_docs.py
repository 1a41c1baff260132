"""The documentation works: every tutorial runs top to bottom as written, and the site builds.

Each tutorial's ```python blocks are joined, in order, into one script that runs in a fresh
process with small settings (the pages read them from ``TUTORIAL_*`` variables), in a temporary
folder, against the FSDD copy of the tests and an empty package cache (so no cached judge, and no
download, is ever used). Fast checks keep the pages' code ruff-clean and every test a page cites
(``tests/<file>.py::<name>``) in existence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

SMALL_SETTINGS = {
    "TUTORIAL_EPOCHS": "1",
    "TUTORIAL_LIMIT": "60",
    "TUTORIAL_JUDGE_EPOCHS": "1",
    "TUTORIAL_IWAE_K": "2",
    "TUTORIAL_SAMPLES": "20",
}

# What each page must leave under TUTORIAL_OUT (file name patterns, searched recursively).
OUTPUTS = {
    "01-quickstart": ["model.keras", "digit_7.wav", "history.csv"],
    "02-pipeline-and-griffin-lim": ["*.png", "*.wav", "*.flac"],
    "03-custom-prior": ["student.keras", "model.keras", "sample_*.wav", "two_level_*.wav"],
    "04-kl-beta-free-bits": ["history.csv"],
    "05-evaluating-audio": ["metrics.json", "*.png", "*.wav"],
    "06-your-own-audio": ["model.keras", "whistle_0.wav", "long_recording.wav"],
}


def tutorial_script(page: Path) -> str:
    """The page's ```python blocks, in order, as one script."""
    blocks = PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))
    return "\n\n".join(f"# --- block {i + 1} of {page.name}\n{b}" for i, b in enumerate(blocks))


def test_every_tutorial_has_code_and_expected_outputs() -> None:
    assert [p.stem for p in TUTORIALS] == sorted(OUTPUTS)
    for page in TUTORIALS:
        assert len(PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))) >= 3, page.name


def test_every_test_the_pages_cite_exists() -> None:
    cited = set()
    for page in DOCS.rglob("*.md"):
        cited |= set(re.findall(r"(tests/\w+\.py)::(\w+)", page.read_text(encoding="utf-8")))
    assert cited, "no page cites a test"
    for path, name in sorted(cited):
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{path}::{name} is cited"


def test_both_test_sets_are_non_empty() -> None:
    """`pytest` runs the fast set (this test among them) and `pytest -m slow` the slow one: CI runs
    both, and a set with no test would end that run with exit status 5."""
    marked = [
        p.name
        for p in (REPO_ROOT / "tests").glob("test_*.py")
        if re.search(r"^@pytest\.mark\.slow$", p.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert marked, "no test is marked slow: `pytest -m slow` would collect nothing"


def test_tutorial_code_is_ruff_clean(tmp_path: Path) -> None:
    """Each page's code lints as one script (imports may follow code) and each block is formatted."""
    scripts, blocks = [], []
    for page in TUTORIALS:
        scripts.append(tmp_path / f"{page.stem.replace('-', '_')}.py")
        scripts[-1].write_text(tutorial_script(page), encoding="utf-8")
        for i, block in enumerate(PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))):
            blocks.append(tmp_path / "blocks" / f"{page.stem.replace('-', '_')}_{i}.py")
            blocks[-1].parent.mkdir(exist_ok=True)
            blocks[-1].write_text(block, encoding="utf-8")
    config = ["--config", str(REPO_ROOT / "pyproject.toml")]
    lint = [sys.executable, "-m", "ruff", "check", *config, "--ignore", "E402", *map(str, scripts)]
    result = subprocess.run(lint, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]
    fmt = [sys.executable, "-m", "ruff", "format", *config, "--check", *map(str, blocks)]
    result = subprocess.run(fmt, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=lambda page: page.stem)
def test_tutorial_runs_as_written(page: Path, tmp_path: Path, fsdd_root: Path) -> None:
    script = tmp_path / f"{page.stem}.py"
    script.write_text(tutorial_script(page), encoding="utf-8")
    out = tmp_path / "out"
    env = {
        **os.environ,
        **SMALL_SETTINGS,
        "TUTORIAL_OUT": str(out),
        "TFP_AUDIO_VAE_FSDD": str(fsdd_root),
        "TFP_AUDIO_VAE_CACHE": str(tmp_path / "cache"),
        "MPLBACKEND": "Agg",
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{page.name} failed (script {script}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
    for pattern in OUTPUTS[page.stem]:
        assert list(out.rglob(pattern)), f"{page.name} wrote no {pattern} under TUTORIAL_OUT"


@pytest.mark.slow
def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    for page in ("index.html", "api/index.html", "tutorials/01-quickstart/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
