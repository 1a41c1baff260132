"""The model and judge shipped with the package (`tfp_audio_vae.pretrained`): checked by SHA-256,
loadable by name, used by every command without training, and FSDD's judge without training
one; nothing downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfp_audio_vae import pretrained
from tfp_audio_vae.data.pipeline import load_waveforms
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.models.saving import load_model
from tfp_audio_vae.runs import Run, judge_for, shipped_judge
from tfp_audio_vae.training.run_spec import DataSpec, RunSpec, Splits

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "tfp_audio_vae" / "pretrained" / "fsdd"


def test_the_shipped_files_are_whole_small_and_the_default_run():
    folder = pretrained.folder("pretrained:fsdd")
    files = pretrained.manifest(folder)["files"]
    assert set(files) == {"model.keras", "judge.keras", "train.json"}
    assert sum(f["bytes"] for f in files.values()) < 12 * 2**20
    assert Run.at("pretrained:fsdd").spec() == RunSpec(data=DataSpec("fsdd"))
    assert (folder / "MODEL_CARD.md").read_text().startswith("# pretrained:fsdd")


def test_a_changed_or_missing_file_is_refused_by_name(tmp_path, monkeypatch):
    copy = tmp_path / "fsdd"
    shutil.copytree(SHIPPED, copy)
    data = bytearray((copy / "train.json").read_bytes())
    data[-2] ^= 1  # one bit, same size
    (copy / "train.json").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"train\.json: its SHA-256 does not match"):
        pretrained.verify(copy)
    (copy / "judge.keras").unlink()
    with pytest.raises(ValueError, match=r"judge\.keras: missing"):
        pretrained.verify(copy)
    with pytest.raises(ValueError, match="no such pretrained model"):
        pretrained.folder("pretrained:sc09")


def test_the_pretrained_model_loads_by_name_and_generates_each_digit():
    from tfp_audio_vae import generate

    model = load_model("pretrained:fsdd")
    assert model.class_names == tuple(str(d) for d in range(10)) and model.latent_dim == 64
    weights = load_model(SHIPPED / "model.keras").get_weights()
    assert all(w.dtype == np.float32 for w in weights)  # stored as float16, computed in float32
    waves = generate(model, 2, labels=[7, 7], n_iter=4, seed=0)
    assert waves.shape == (2, 8192) and np.all(np.isfinite(waves)) and np.abs(waves).max() > 0


def test_fsdds_judge_is_the_shipped_one_when_none_is_cached(fsdd_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TFP_AUDIO_VAE_CACHE", str(tmp_path / "empty-cache"))
    data = DataSpec("fsdd", str(fsdd_root))
    splits = data.splits()
    started = time.perf_counter()
    judge = judge_for(data, splits, train_if_missing=False)
    assert time.perf_counter() - started < 60 and judge.num_classes == 10
    waves, labels = load_waveforms(splits.test[::10], SpectrogramConfig())  # 30 clips
    assert judge.accuracy(waves, labels) >= 0.9
    assert not (tmp_path / "empty-cache").exists()  # nothing trained, nothing cached
    other = Splits("FSDD", [], [], [], splits.class_names, splits.all_train[:-1])
    assert shipped_judge(other) is None  # another train split gets a judge of its own


def _command(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "tfp_audio_vae.cli", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        timeout=600,
    )


@pytest.mark.slow
def test_a_fresh_user_hears_digits_and_reconstructions_in_a_minute(tmp_path, fsdd_root):
    """``generate fsdd --class 7`` and ``reconstruct fsdd FILE`` through the real command, from
    an empty folder and cache: no training, no download; the time is the user's wait."""
    started = time.perf_counter()
    generated = _command("generate", "fsdd", "-n", "4", "--class", "7", cwd=tmp_path)
    seconds = time.perf_counter() - started
    assert generated.returncode == 0, generated.stderr[-2000:]
    assert generated.stderr == ""
    wavs = sorted((tmp_path / "runs" / "pretrained-fsdd" / "samples").glob("*.wav"))
    assert [w.name for w in wavs] == [f"sample_{i:03d}_7.wav" for i in range(4)]
    assert seconds < 120, f"the first WAVs took {seconds:.0f} s"
    clip = fsdd_root / "recordings" / "3_theo_0.wav"
    rebuilt = _command("reconstruct", "pretrained:fsdd", str(clip), cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    out = tmp_path / "runs" / "pretrained-fsdd" / "reconstructions" / "3_theo_0_reconstruction.wav"
    wave, rate = sf.read(out)
    assert rate == 8000 and len(wave) == 8192
    assert not (SHIPPED / "samples").exists() and not (SHIPPED / "reconstructions").exists()
