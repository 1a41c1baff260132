"""Where judges live: one per labelled data set, trained once and cached by `get_judge`.

FSDD's judge is cached under ``fsdd.cache_dir()/judge/`` in a file named after `JUDGE_VERSION`,
so a changed architecture or recipe never loads stale weights; any other data set's is named
after the `fingerprint` of its labelled file list as well.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import numpy as np

from tfp_audio_vae import defaults
from tfp_audio_vae.data import fsdd
from tfp_audio_vae.data.archives import sha256
from tfp_audio_vae.data.pipeline import AudioRecord, load_waveforms
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.evaluation.judge.network import JUDGE_VERSION, Judge
from tfp_audio_vae.evaluation.judge.training import SECONDS_PER_CLIP_EPOCH, train_judge
from tfp_audio_vae.files import save_keras
from tfp_audio_vae.progress import Say, step


def judge_path(cache: str | Path | None = None, fingerprint: str | None = None) -> Path:
    """Where a judge is cached: FSDD's at ``{cache}/judge/digit-judge-{JUDGE_VERSION}.keras``
    (the name it has always had, so judges cached before keep loading), one of another data set
    at ``{cache}/judge/judge-{JUDGE_VERSION}-{fingerprint}.keras``.

    Args:
      cache: the package's cache folder; ``None`` uses `fsdd.cache_dir`.
      fingerprint: the data set's `fingerprint`; ``None`` for FSDD.
    """
    root = Path(cache) if cache is not None else fsdd.cache_dir()
    name = (
        f"digit-judge-{JUDGE_VERSION}"
        if fingerprint is None
        else f"judge-{JUDGE_VERSION}-{fingerprint}"
    )
    return root / "judge" / f"{name}.keras"


def fingerprint(records: Sequence[AudioRecord]) -> str:
    """16 hex digits naming a labelled file list: the SHA-256 of its (path, label) lines, sorted,
    so the same files with the same labels name the same cached judge."""
    return _digest(f"{Path(r.path).resolve()}\t{r.label}" for r in records)


def content_fingerprint(records: Sequence[AudioRecord]) -> str:
    """16 hex digits naming a labelled data set by what it holds: the SHA-256 of its (file name,
    label, file SHA-256) lines, sorted, so the same clips name the same judge wherever they lie
    (a shipped judge matches a user's copy of its data by this)."""
    return _digest(f"{Path(r.path).name}\t{r.label}\t{sha256(Path(r.path))}" for r in records)


def _digest(lines: Iterable[str]) -> str:
    """16 hex digits of the SHA-256 of ``lines``, sorted and joined."""
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]


def save_judge(model: keras.Model, path: str | Path) -> Path:
    """Saves a judge network as one ``.keras`` file, atomically."""
    return save_keras(model, path)


def load_judge(path: str | Path) -> Judge:
    """Loads a judge saved by `save_judge`, in Keras safe mode (no code from the file runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such judge file")
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError, KeyError) as error:
        raise ValueError(f"{path}: cannot load the judge: {error}") from error
    return Judge(model)


def judge_epochs(clips: int) -> int:
    """The epochs a judge trains for on ``clips`` clips: `defaults.JUDGE_CLIP_EPOCHS` spread over
    them, from 20 up to `defaults.JUDGE_MAX_EPOCHS` (FSDD's 2,700: 20)."""
    spread = round(defaults.JUDGE_CLIP_EPOCHS / max(clips, 1))
    return min(defaults.JUDGE_MAX_EPOCHS, max(20, spread))


def get_judge(
    fsdd_root: str | Path | None = None,
    *,
    records: Sequence[AudioRecord] | None = None,
    num_classes: int | None = None,
    train_if_missing: bool = True,
    epochs: int | None = None,
    seed: int = 0,
    verbose: int | str = 0,
    say: Say | None = None,
) -> Judge:
    """The cached judge of a data set, or one trained on its train split and cached.

    FSDD's (``records`` None) is cached at ``judge_path()`` and trained on the FSDD train
    split; any other labelled data set's at ``judge_path(fingerprint=...)``, named after its
    `fingerprint`, and trained on ``records``. Never downloads anything: FSDD is found with
    ``fsdd.locate(fsdd_root, download=False)``.

    Args:
      fsdd_root: the FSDD folder for training; ``None`` looks where `fsdd.locate` does.
      records: another data set's labelled training clips (e.g. `sc09.records(root, "train")`,
        or a folder's `folders.read_folder(...).train`), at any rate (resampled to 8 kHz).
      num_classes: the classes of ``records``; ``None`` takes the largest label + 1.
      train_if_missing: train (minutes on a CPU) when no judge is cached; otherwise raise.
      epochs, seed: of that training (see `train_judge`); ``None``: `judge_epochs` of the
        clips.
      verbose: Keras verbosity while training.
      say: where the training says it starts, about how long it takes, and how long it took
        (`progress.step`); ``None``: silent.
    Raises:
      FileNotFoundError: no judge is cached and ``train_if_missing`` is False, or FSDD is missing.
      ValueError: if a record of ``records`` has no label.
    """
    path = judge_path(fingerprint=None if records is None else fingerprint(records))
    if path.is_file():
        return load_judge(path)
    if not train_if_missing:
        how = (
            "run `python -m tfp_audio_vae.evaluation.judge` to train one"
            if records is None
            else "get_judge(records=...) with train_if_missing=True trains one"
        )
        raise FileNotFoundError(
            f"no {'FSDD judge' if records is None else 'judge of these records'} cached at "
            f"{path}: {how}"
        )
    if records is None:
        records = fsdd.records(fsdd.locate(fsdd_root, download=False), "train")
    waves, labels = load_waveforms(records, SpectrogramConfig())  # [n, 8192], [n]
    if labels.min() < 0:
        raise ValueError(f"{int(np.sum(labels < 0))} of the judge's training clips have no label")
    num_classes = num_classes or int(labels.max()) + 1
    epochs = epochs or judge_epochs(len(labels))
    what = f"training the judge on {len(labels)} clips for {epochs} epochs (once: cached at {path})"
    with step(say, what, expected_s=SECONDS_PER_CLIP_EPOCH * len(labels) * epochs):
        model = train_judge(
            waves, labels, num_classes=num_classes, epochs=epochs, seed=seed, verbose=verbose
        )
    save_judge(model, path)
    return Judge(model)
