"""A user's own folder at 16 and 22.05 kHz, in WAV and FLAC (spoken digits made here with
espeak-ng, `experiments.espeak_digits`), end to end at 16 kHz through the real command: train,
generate per class, evaluate with the folder's own judge, reconstruct a long file whole, and the
explorer. Slow: it trains a model and a judge; needs the ``espeak-ng`` program, which `.ci/run`
installs. `docs/scaling-up.md` has the figures of a model trained on the full corpus."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from experiments import espeak_digits
from tfp_audio_vae import cli
from tfp_audio_vae.data.audio_files import resample
from tfp_audio_vae.evaluation.judge import get_judge
from tfp_audio_vae.explorer.session import Explorer
from tfp_audio_vae.runs import Run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return espeak_digits.build(tmp_path_factory.mktemp("espeak") / "digits", "small")


@pytest.fixture(scope="module")
def run_dir(corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("multirate") / "run"
    command = [
        sys.executable, "-m", "tfp_audio_vae.cli", "train", "--data", str(corpus),
        "--resolution", "16k", "--run-dir", str(run), "--epochs", "2", "--latent-dim", "8",
        "--batch-size", "8",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    # its clips are at up to 22,050 Hz: train says once that they are resampled, and how to keep them
    notes = [line for line in result.stdout.splitlines() if "keeps them" in line]
    assert notes == [
        "the training clips are at up to 22050 Hz, resampled to 16000 Hz: "
        "--sample-rate 22050 keeps them"
    ]
    return run


def test_a_multi_rate_folder_trains_generates_evaluates_and_reconstructs_at_16_khz(
    run_dir, corpus, tmp_path, monkeypatch, capsys
):
    record = json.loads((run_dir / "train.json").read_text())
    assert record["resolution"]["sample_rate"] == 16_000

    assert cli.main(["generate", str(run_dir), "-n", "4", "--class", "seven,two",
                     "--out", str(tmp_path / "g")]) == 0  # fmt: skip
    written = sorted((tmp_path / "g").glob("*.wav"))
    assert [p.name.split("_", 2)[-1] for p in written] == ["seven.wav", "two.wav"] * 2
    assert {(sf.info(p).samplerate, sf.info(p).frames) for p in written} == {(16_000, 16_384)}

    # the folder's own judge, cached where evaluate looks: trained briefly here, as evaluate
    # would train it (for 100 epochs, `judge_epochs` of its 110 clips)
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "cache"))
    splits = Run.at(run_dir).splits()
    get_judge(records=splits.all_train, num_classes=10, epochs=3)
    metrics = tmp_path / "metrics.json"
    assert cli.main(["evaluate", str(run_dir), "--k", "5", "--samples", "20", "--quiet",
                     "--out", str(metrics)]) == 0  # fmt: skip
    figures = json.loads(metrics.read_text())  # judged by a judge of the folder's ten words
    assert figures["reconstruction"]["examples"] == 10  # one held out of each word's 12
    assert len(figures["real_audio"]["class_histogram"]) == 10
    assert 0 <= figures["reconstruction"]["judge_accuracy"] <= 1
    assert list(figures["seconds"]) == ["likelihood", "reconstruction", "generation", "rest"]

    # a long file: three words side by side at 22.05 kHz, back whole at the model's 16 kHz
    clips = [sf.read(next((corpus / w).glob("*.wav")), dtype="float32") for w in ("one", "two")]
    waves = [resample(w, r, 22_050) for w, r in clips]
    long = tmp_path / "long.wav"
    sf.write(long, np.concatenate([*waves, waves[0]]), 22_050)
    seconds = sf.info(long).duration
    assert cli.main(["reconstruct", str(run_dir), str(long), "--out", str(tmp_path / "r")]) == 0
    (rebuilt,) = (tmp_path / "r").glob("*.wav")
    assert sf.info(rebuilt).samplerate == 16_000
    assert sf.info(rebuilt).frames == pytest.approx(seconds * 16_000, abs=1)
    capsys.readouterr()

    explorer = Explorer.from_run(run_dir, limit=4, n_iter=2)
    try:
        assert len(explorer.latent_map("pca")["points"]) == 4
        clip = explorer.clip(0)["reconstruction"]
        assert clip["seconds"] == pytest.approx(16_384 / 16_000)
        assert explorer.info()["judge"] and clip["verdict"] is not None  # judged at 16 kHz
    finally:
        explorer.close()
