"""Class names travel with the model: saved in its config, asked for by name with
``generate --class``, and the conditional prior sized by the data's classes. The slow tests
train and generate per class through the real command on a labelled folder and on SC09 (a
loopback archive), one tiny epoch each."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tfp_audio_vae import cli
from tfp_audio_vae.data import sc09
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae

from .helpers import TINY_CONFIG
from .loopback import LoopbackServer, sc09_archive


@pytest.fixture(scope="module")
def named_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained conditional model with three named classes, saved as a .keras file."""
    model = build_vae(
        TINY_CONFIG, "conditional", latent_dim=2, components_per_class=2,
        class_names=["cat", "dog", "owl"],
    )  # fmt: skip
    return save_model(model, tmp_path_factory.mktemp("named") / "model.keras")


def test_class_names_are_saved_and_size_the_conditional_prior(named_model: Path) -> None:
    model = load_model(named_model)
    assert model.class_names == ("cat", "dog", "owl")
    assert model.prior.num_classes == 3 and model.prior.num_components == 6
    assert model.class_labels(["owl", "cat", "owl"]) == [2, 0, 2]
    with pytest.raises(ValueError, match="no class 'cow' in this model; its classes are: cat, dog"):
        model.class_labels(["cow"])
    assert build_vae(TINY_CONFIG, "standard", latent_dim=2).class_names is None


def test_class_names_must_fit_the_prior() -> None:
    with pytest.raises(ValueError, match="2 class names for a conditional prior of 10 classes"):
        build_vae(TINY_CONFIG, "conditional", latent_dim=2, num_classes=10,
                  class_names=["a", "b"])  # fmt: skip
    with pytest.raises(ValueError, match="distinct non-empty strings"):
        build_vae(TINY_CONFIG, "standard", latent_dim=2, class_names=["a", "a"])


def test_generate_by_class_name(named_model: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "samples"
    argv = ["generate", str(named_model), "-n", "3", "--class", "dog,owl", "--n-iter", "1"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "sample_000_dog.wav", "sample_001_owl.wav", "sample_002_dog.wav",
    ]  # fmt: skip
    assert cli.main(["generate", str(named_model), "--class", "cow", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "tfp-audio-vae: error: --class: no class 'cow' in this model; its classes are: "
        "cat, dog, owl"
    )
    assert cli.main(["generate", str(named_model), "--digit", "3", "--out", str(out)]) == 2
    assert "--digit: no class '3' in this model" in capsys.readouterr().err


def test_class_and_digit_together_are_refused(named_model: Path, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["generate", str(named_model), "--class", "dog", "--digit", "3"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_download_sc09_from_a_loopback_archive(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    body = sc09_archive(clips_per_word=2, seconds=0.1)
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(sc09.ENV_VAR, raising=False)
    monkeypatch.setattr(sc09, "ARCHIVE_URL", server.url("/sc.tar.gz", body))
    monkeypatch.setattr(sc09, "ARCHIVE_SIZE", len(body))
    monkeypatch.setattr(sc09, "ARCHIVE_SHA256", "0" * 64)
    assert cli.main(["download", "sc09"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after tqdm's progress bar
    assert last.startswith("tfp-audio-vae: error: ") and "does not have the pinned SHA-256" in last
    monkeypatch.setattr(sc09, "ARCHIVE_SHA256", hashlib.sha256(body).hexdigest())
    assert cli.main(["download", "sc09"]) == 0
    root = tmp_path / "cache" / sc09.FOLDER
    assert capsys.readouterr().out.strip() == f"SC09 (Speech Commands v0.02) ready at {root}"
    assert len(sc09.records(root)) == 20


# --- end to end, through the real command -----------------------------------------------------


def _command(*argv: str, env: dict[str, str] | None = None) -> str:
    command = [sys.executable, "-m", "tfp_audio_vae.cli", *argv]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


TINY_TRAINING = ["--epochs", "1", "--latent-dim", "2", "--batch-size", "8",
                 "--components-per-class", "1", "--quiet"]  # fmt: skip


@pytest.mark.slow
def test_a_labelled_folder_trains_generates_and_is_judged_per_class(
    fsdd_root: Path, tmp_path: Path
) -> None:
    for name, digit in (("cat", 1), ("dog", 5), ("owl", 8)):  # three spoken digits, renamed
        clips = sorted((fsdd_root / "recordings").glob(f"{digit}_jackson_*.wav"))
        for split, chosen in (("train", clips[:6]), ("test", clips[6:8])):
            (tmp_path / "data" / split / name).mkdir(parents=True)
            for path in chosen:
                shutil.copy(path, tmp_path / "data" / split / name)
    run = tmp_path / "run"
    _command("train", "--run-dir", str(run), "--data", str(tmp_path / "data"), *TINY_TRAINING)
    model = load_model(run / "model.keras")
    assert model.class_names == ("cat", "dog", "owl") and model.prior.num_classes == 3
    out = _command("generate", str(run), "-n", "2", "--class", "owl", "--n-iter", "2")
    assert out.strip() == f"wrote 2 WAV files to {run / 'samples'}"
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "sample_000_owl.wav", "sample_001_owl.wav",
    ]  # fmt: skip
    # the judge's figures: a three-class judge trained on the folder's training clips
    env = {**os.environ, "TFP_AUDIO_VAE_CACHE": str(tmp_path / "cache")}
    out = _command("evaluate", str(run), "--k", "2", "--samples", "6", env=env)
    assert "loading the judge of this data set (trained on its 18 training clips" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["generation"]["conditional"]["per_class_accuracy"]) == 3
    assert len(list((tmp_path / "cache" / "judge").glob("judge-*.keras"))) == 1


@pytest.mark.slow
def test_sc09_trains_and_generates_per_word_at_its_own_16_khz(
    server: LoopbackServer, tmp_path: Path
) -> None:
    body = sc09_archive(clips_per_word=3)
    url = server.url("/sc09.tar.gz", body)
    root = sc09.download(tmp_path / "cache", url=url, size=len(body),
                         digest=hashlib.sha256(body).hexdigest(), progress=False)  # fmt: skip
    env = {**os.environ, sc09.ENV_VAR: str(root)}
    run = tmp_path / "run"
    _command("train", "--run-dir", str(run), "--dataset", "sc09", *TINY_TRAINING, env=env)
    model = load_model(run / "model.keras")
    assert model.class_names == sc09.CLASS_NAMES and model.prior.num_classes == 10
    _command("generate", str(run), "-n", "2", "--class", "seven,nine", "--n-iter", "2", env=env)
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "sample_000_seven.wav", "sample_001_nine.wav",
    ]  # fmt: skip
    # SC09's own rate unless --resolution says otherwise, recorded for every later command
    assert json.loads((run / "train.json").read_text())["resolution"]["sample_rate"] == 16_000
    assert model.spectrogram_config.sample_rate == 16_000
    assert {sf.info(p).samplerate for p in (run / "samples").iterdir()} == {16_000}
