"""Issue 11, in-process: non-finite audio, absurd rates, damaged or inflating model files, stale
partial files of a killed run, and write errors that name their file."""

from __future__ import annotations

import errno
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.data import pipeline
from tfp_audio_vae.data.audio_files import MIN_SAMPLE_RATE, AudioFileError, probe, read_audio
from tfp_audio_vae.files import FolderInUseError, atomic_output, folder_lock
from tfp_audio_vae.models.saving import MAX_MEMBER_BYTES, load_model, save_model


def _tone(n: int = 8000) -> np.ndarray:
    return (0.3 * np.sin(np.arange(n) / 5.0)).astype(np.float32)


# --- row 1: non-finite audio is found when a file is checked ------------------------------------


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_probe_finds_a_nan_or_inf_sample_naming_the_file(tmp_path: Path, subtype: str, bad: float):
    wave = _tone(200_000)  # past the first block the scan decodes
    wave[150_001] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, wave, 8000, subtype=subtype)
    with pytest.raises(AudioFileError, match="NaN or infinite") as caught:
        probe(path)
    assert caught.value.path == path and "frame 150001" in str(caught.value)


def test_non_finite_files_are_refused_or_skipped_before_any_tensorflow_op(tmp_path: Path):
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    sf.write(good, _tone(), 8000, subtype="FLOAT")
    wave = _tone()
    wave[10] = np.nan
    sf.write(bad, wave, 8000, subtype="FLOAT")
    assert [e.path for e in pipeline.validate_files([good, bad], TINY_CONFIG)] == [bad]
    # raised when the dataset is built (the header check), not later inside a tf.data iterator
    with pytest.raises(AudioFileError, match="bad.wav: contains NaN"):
        pipeline.spectrogram_dataset([good, bad], TINY_CONFIG)
    data = pipeline.spectrogram_dataset([good, bad], TINY_CONFIG, on_error="skip", batch_size=4)
    batches = list(data)
    assert sum(int(b["spectrogram"].shape[0]) for b in batches) == 1
    assert all(np.isfinite(b["spectrogram"].numpy()).all() for b in batches)


# --- row 8: absurd sample rates are refused; only what is used is read --------------------------


@pytest.mark.parametrize(("rate", "seconds"), [(1, 20_000), (3, 66_666), (MIN_SAMPLE_RATE - 1, 2)])
def test_rates_below_the_minimum_are_refused_naming_the_file(tmp_path: Path, rate, seconds):
    path = tmp_path / f"at_{rate}_hz.wav"
    sf.write(path, np.zeros(rate * seconds, np.int16), rate, subtype="PCM_16")
    tracemalloc.start()
    try:
        with pytest.raises(AudioFileError, match=f"sample rate {rate} Hz is below the minimum"):
            read_audio(path, sample_rate=8000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20  # refused from the header: nothing decoded, nothing resampled


def test_a_long_file_is_cut_before_it_is_resampled(tmp_path: Path):
    """A 2.8-hour 16-bit file at the minimum rate (20 MB): only the clip's second is decoded and
    resampled. Read whole and resampled to 8 kHz it would take 40 MB + 320 MB."""
    path = tmp_path / "long.wav"
    frames = 10_000_000
    with sf.SoundFile(path, "w", MIN_SAMPLE_RATE, 1, "PCM_16") as f:
        block = (np.sin(np.arange(1_000_000) / 3.0) * 8000).astype(np.int16)
        for _ in range(frames // len(block)):
            f.write(block)
    tracemalloc.start()
    try:
        wave, rate = read_audio(path, sample_rate=8000, max_duration=1.024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"peak traced memory reading 1.024 s of a {frames:,}-frame file: {peak / 2**20:.2f} MiB")
    assert rate == 8000 and wave.shape == (8192,)
    assert peak < 4 * 2**20
    # the same samples as the whole file resampled, over the part that is used
    head, _ = read_audio(path, sample_rate=None, max_duration=3.0)
    from tfp_audio_vae.data.audio_files import resample

    reference = resample(head, MIN_SAMPLE_RATE, 8000)[:8192]
    assert np.abs(wave - np.clip(reference, -1, 1)).max() < 1e-3


def test_the_pipeline_reads_only_the_clip_of_a_long_file(tmp_path: Path):
    path = tmp_path / "long.flac"
    sf.write(path, np.tile(_tone(), 60), 16000)  # 30 s at 16 kHz, not the in-graph path
    waves, _ = pipeline.load_waveforms([path], TINY_CONFIG)
    direct, _ = read_audio(path, sample_rate=8000)
    assert waves.shape == (1, TINY_CONFIG.num_samples)
    assert np.abs(waves[0] - direct[: TINY_CONFIG.num_samples]).max() < 1e-3


# --- row 3: damaged and inflating .keras files --------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tfp_audio_vae.models.variants import build_vae

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    save_model(build_vae(TINY_CONFIG, "standard", latent_dim=2), path)
    return path


def _flip_a_byte_of(model: Path, member: str, out: Path) -> Path:
    with zipfile.ZipFile(model) as archive:
        info = archive.getinfo(member)
    data = bytearray(model.read_bytes())
    name_length, extra_length = np.frombuffer(
        bytes(data[info.header_offset + 26 : info.header_offset + 30]), "<u2"
    )
    start = info.header_offset + 30 + int(name_length) + int(extra_length)
    data[start + info.compress_size // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5", "metadata.json"])
def test_a_model_file_with_a_flipped_byte_is_refused_naming_it(
    tiny_model_file: Path, tmp_path: Path, member: str
):
    damaged = _flip_a_byte_of(tiny_model_file, member, tmp_path / "damaged.keras")
    with pytest.raises(ValueError, match=f"damaged.keras: damaged .keras file .*{member}") as e:
        load_model(damaged)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


def test_a_model_file_that_inflates_past_the_limit_is_refused_before_it_is_read(
    tiny_model_file: Path, tmp_path: Path
):
    """A 70 kB file whose config.json inflates to 64 MiB: refused from the archive's directory."""
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(tiny_model_file) as source, zipfile.ZipFile(bomb, "w") as out:
        for info in source.infolist():
            if info.filename == "config.json":
                big = zipfile.ZipInfo("config.json")
                big.compress_type = zipfile.ZIP_DEFLATED
                with out.open(big, "w") as f:
                    for _ in range(64):
                        f.write(b" " * 2**20)
            elif info.filename == "metadata.json":
                out.writestr(info, source.read(info.filename))
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="bomb.keras: .*config.json would inflate to"):
            load_model(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"peak traced memory refusing a 64 MiB config.json: {peak / 2**20:.2f} MiB")
    assert MAX_MEMBER_BYTES < 64 * 2**20 and peak < 2 * 2**20


# --- row 5: partial files of a killed run are removed; write errors name their file -------------


def test_a_stale_checkpoint_temp_folder_and_tmp_files_are_removed_on_the_next_start(
    tmp_path: Path,
):
    from tfp_audio_vae.models.variants import build_vae
    from tfp_audio_vae.training.fit import train

    run = tmp_path / "run"
    stale = run / "checkpoints" / "ckpt-3_temp"
    stale.mkdir(parents=True)
    (stale / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 1000)
    (run / ".tmp-0123456789ab-history.csv").write_text("epoch\n")
    model = build_vae(TINY_CONFIG, "standard", latent_dim=2)
    train(model, random_batches(16, 8), run, epochs=1, verbose=0)
    assert not list(run.rglob("*_temp*")) and not list(run.glob(".tmp-*"))
    assert (run / "checkpoints" / "ckpt-1.index").is_file() and not (run / ".lock").exists()


def test_a_file_too_large_error_names_the_file(tmp_path: Path):
    target = tmp_path / "out" / "history.csv"
    expected = r"history.csv: cannot be written \(File too large\)"
    with pytest.raises(OSError, match=expected) as e, atomic_output(target):
        raise OSError(errno.EFBIG, "File too large")
    assert e.value.errno == errno.EFBIG
    assert not target.exists() and not list(target.parent.iterdir())


# --- row 4: the run-folder lock, in one process --------------------------------------------------


def test_the_folder_lock_is_reentrant_and_removed_on_release(tmp_path: Path):
    with folder_lock(tmp_path / "run") as lock, folder_lock(str(tmp_path / "run") + "/"):
        assert lock.read_text().strip() == str(__import__("os").getpid())
    assert not lock.exists()
    with folder_lock(tmp_path / "run"):
        pass


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path: Path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], stdout=-1)
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(dead.stdout.decode())  # what a kill -9 leaves behind
    with folder_lock(run) as lock:
        assert lock.read_text().strip() != dead.stdout.decode().strip()
    assert issubclass(FolderInUseError, RuntimeError)
