"""Spoken digits at several sample rates and in several formats, made here with espeak-ng: a
labelled corpus to train and judge models at resolutions FSDD does not have (issue 28).

    python -m experiments.espeak_digits --out corpora/espeak [--size small|full]

Writes ``OUT/{zero..nine}/{voice}_{variant}_p{pitch}_s{speed}.{wav,flac}``, one folder per class
as `tfp-audio-vae train --data` reads them: every combination of espeak-ng's English voices,
its voice variants, pitches and speaking rates says each digit's word. espeak-ng speaks at
22,050 Hz; every other clip is resampled to 16 kHz (soxr) and every third written as FLAC, so
the corpus mixes rates and formats as a user's folder does. Needs the ``espeak-ng`` program
(Debian: ``apt-get install espeak-ng``); nothing is downloaded.

``--size small`` (2 voices x 2 variants x 3 pitches, 12 clips a digit, one of each held out to
test) is what the tests train on; ``full`` (4 x 4 x 3 x 2 speeds, 96 a digit) is what
``docs/scaling-up.md`` measures.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path

import soundfile as sf

from tfp_audio_vae.data.audio_files import resample

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ESPEAK_RATE = 22_050
SIZES = {
    "small": {
        "voices": ("en-us", "en-gb"),
        "variants": ("m3", "f3"),
        "pitches": (35, 50, 65),
        "speeds": (160,),
    },
    "full": {
        "voices": ("en-us", "en-gb", "en-gb-scotland", "en-029"),
        "variants": ("m1", "m3", "f2", "f4"),
        "pitches": (30, 50, 70),
        "speeds": (140, 180),
    },
}


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` program is on the path."""
    return shutil.which("espeak-ng") is not None


def build(folder: str | Path, size: str = "small") -> Path:
    """Writes the corpus (see the module's docstring) into ``folder``, which must not exist yet;
    returns it.

    Raises:
      FileNotFoundError: without the ``espeak-ng`` program.
      FileExistsError: if ``folder`` exists.
    """
    if not espeak_available():
        raise FileNotFoundError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    folder = Path(folder)
    if folder.exists():
        raise FileExistsError(f"{folder} exists: the corpus is written into a new folder")
    settings = SIZES[size]
    combinations = list(
        itertools.product(
            settings["voices"], settings["variants"], settings["pitches"], settings["speeds"]
        )
    )
    with tempfile.TemporaryDirectory() as scratch:
        said = Path(scratch) / "word.wav"
        for word in WORDS:
            (folder / word).mkdir(parents=True)
            for i, (voice, variant, pitch, speed) in enumerate(combinations):
                subprocess.run(
                    ["espeak-ng", "-v", f"{voice}+{variant}", "-p", str(pitch), "-s", str(speed),
                     "-w", str(said), word],
                    check=True, capture_output=True,
                )  # fmt: skip
                wave, rate = sf.read(said, dtype="float32")
                if i % 2:
                    wave, rate = resample(wave, rate, 16_000), 16_000
                suffix = ".flac" if i % 3 == 2 else ".wav"
                name = f"{voice}_{variant}_p{pitch}_s{speed}{suffix}"
                sf.write(folder / word / name, wave, rate)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the corpus's folder (new)")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    args = parser.parse_args(argv)
    folder = build(args.out, args.size)
    clips = sum(1 for _ in folder.rglob("*.*"))
    print(f"{clips} clips of {len(WORDS)} digits in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
