"""The command ``python -m tfp_audio_vae.evaluation.judge [--fsdd PATH] [--epochs N] [--seed S]``:
trains FSDD's judge on its train split, caches it where `get_judge` finds it, and prints its
accuracy on the test split."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import keras

from tfp_audio_vae.data import fsdd
from tfp_audio_vae.data.pipeline import load_waveforms
from tfp_audio_vae.data.spectrogram import SpectrogramConfig
from tfp_audio_vae.evaluation.judge.cache import judge_path, load_judge, save_judge
from tfp_audio_vae.evaluation.judge.network import JUDGE_VERSION
from tfp_audio_vae.evaluation.judge.training import train_judge


def main(argv: list[str] | None = None) -> None:
    """``python -m tfp_audio_vae.evaluation.judge``: train FSDD's judge, cache it, report."""
    parser = argparse.ArgumentParser(
        prog="python -m tfp_audio_vae.evaluation.judge",
        description="Train the judge on the FSDD train split, cache it, report test accuracy.",
    )
    parser.add_argument("--fsdd", type=Path, default=None, help="FSDD folder (holding recordings/)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and shuffling")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)  # an entry point: seeds anything left unseeded

    root = fsdd.locate(args.fsdd, download=False)
    config = SpectrogramConfig()
    train_waves, train_labels = load_waveforms(fsdd.records(root, "train"), config)
    test_waves, test_labels = load_waveforms(fsdd.records(root, "test"), config)
    start = time.perf_counter()
    model = train_judge(
        train_waves,
        train_labels,
        epochs=args.epochs,
        seed=args.seed,
        validation=(test_waves, test_labels),
        verbose=2,
    )
    seconds = time.perf_counter() - start
    path = save_judge(model, judge_path())
    judge = load_judge(path)
    accuracy = judge.accuracy(test_waves, test_labels)
    print(
        f"FSDD judge {JUDGE_VERSION}: test accuracy {accuracy:.2%} on {len(test_labels)} clips; "
        f"trained {args.epochs} epochs on {len(train_labels)} clips in {seconds:.0f} s; "
        f"saved to {path}"
    )


if __name__ == "__main__":
    main()
