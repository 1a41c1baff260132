"""The package's one set of defaults: the measured-best settings, defined once.

`build_vae`, `train`, `generate`, `evaluate`, the command line and `examples/compare_priors.py`
all take their defaults from here, so the Python API, the CLI and the examples agree. Each value
says what it is and why, and names the record under ``docs/data/`` that measured it and the
table of ``docs/results.md`` that shows it; the figures themselves live there, not here (a lever's
row in "What each lever did" names the default it was measured against).
"""

from __future__ import annotations

import argparse

# The model (`models.variants.build_vae`)
PRIOR = "conditional"
"""A mixture prior with components tied to the classes, trained with the labels: its prior
samples and class samples are judged far better than N(0, I)'s (``docs/data/seed_spread/``;
results "Run to run: three seeds of the default")."""
LATENT_DIM = 64
"""Size of z: 64 raised the Inception Score over 32 at the same multiply-adds, and 128 was no
better (``docs/data/overfitting/lat64-s0``, ``lat64-s1``, ``lat128-s0``; results "What each lever
did", the latent rows)."""
LOCAL_DIM = 0
"""Time-local latents per coarse frame (`models.local_prior`); 0: the global z alone. See
``docs/results.md``, "Local latents", for what they did to fidelity and likelihood."""
LOCAL_PRIORS = ("independent", "autoregressive")
LOCAL_PRIOR = "independent"
"""p(u | z) of local latents: ``"independent"`` (frames independent given z) or
``"autoregressive"`` (each frame also given the earlier ones; `models.local_prior`)."""
LOCAL_COMPONENTS = 1
"""Gaussians in each frame's p(u_t | ...) of local latents: 1, or a mixture of several."""
NUM_CLASSES = 10
"""Classes of a conditional prior and of a judge when the data names none: FSDD's ten digits. A
labelled data set's own classes (its ``class_names``) take its place."""
COMPONENTS_PER_CLASS = 24
"""Mixture components per class, fitted by EM to where the encoder puts that class's clips: 24
gave better prior and class samples than 12 at no training cost, and 48 no better than 24
(``docs/data/lever_pilots.jsonl``, ``docs/data/seed_spread/``; results "Pilots: one lever each on
the current network" and "Where the Fréchet distance comes from")."""
NETWORK = "conv1d"
"""The encoder and decoder (`models.variants.NETWORKS`): frequency bins as channels of 1-D
convolutions over time, better on every judged figure than the 2-D ``"conv2d"`` at 0.72x its
multiply-adds (``docs/data/quality_ablation.jsonl``; results "The ablation runs")."""
DECODER_SCALE = "optimal"
"""The likelihood's scale: per frequency bin, the batch's RMS error in training (the σ-VAE's
calibrated decoder), a running average of it in evaluation; a better likelihood and log-spectral
distance than one learned value per bin (``"bin"``) at the same cost
(``docs/data/quality_ablation.jsonl``; results "Two levers of the batch-32, σ-VAE default, on
judge v2")."""

# Training (`training.fit.train`)
EPOCHS = 30
"""Passes over the training clips: 25 were worse on every judged figure, and 100 (the ``best``
preset) buys better audio for 3.3x the training and a far worse likelihood
(``docs/data/seed_spread/epochs25/``, ``docs/data/best/``; results "What each lever did" and "The
best preset")."""
BATCH_SIZE = 32
"""Clips per step: twice the steps of 64 for the same multiply-adds, which learned more from
FSDD's 2,700 training clips (``docs/data/quality_ablation.jsonl``; results "Two levers of the
batch-32, σ-VAE default, on judge v2")."""
LEARNING_RATE = 2e-3
"""Adam's peak learning rate: 4e-3 was worse on every figure (``docs/data/lever_pilots.jsonl``;
results "Pilots: one lever each on the current network")."""
LR_SCHEDULE = "cosine"
"""``"cosine"``: one warm-up epoch, then a cosine decay to 0 at the last epoch, which gave a
better −ELBO than a constant rate; or ``"constant"`` (``docs/data/quality_ablation.jsonl``;
results "The ablation runs")."""
CLIPNORM = 10.0
"""Gradients are clipped to this global norm, a guard against a diverging step."""
WEIGHT_DECAY = 0.0
"""AdamW's decoupled weight decay of the network's weights (0: plain Adam); 0.5 made the audio
worse (``docs/data/overfitting/wd05-s0``; results "What each lever did")."""
FIT_PRIOR_EVERY = 5
"""Epochs between EM refits of a refittable prior to the aggregate posterior (and one at the
end); priors without ``fit_to_posteriors`` are never refitted. Gradient steps move a mixture's
means too slowly to follow the encoder (`training.callbacks.FitPrior`)."""
CHECKPOINT_SELECTION = "last"
"""The weights a run ends on (`training.fit.train`): ``"last"``, the last epoch's, or
``"best"``, those of the epoch with the best held-out bound (kept either way)."""
STRATEGY = "auto"
"""The distribution strategy (`training.distribute.make_strategy`): several workers when
``TF_CONFIG`` names a cluster, else TensorFlow's default one-device strategy."""

# Data (`training.run_spec.DataSpec`, `data.pipeline.spectrogram_dataset`)
VALIDATION_FRACTION = 0.1
"""The share of the training clips carved out (stratified by class and speaker) to validate:
the held-out bound after each epoch, the checkpoint it selects and the likelihood's calibrated
scale come from these clips, never from the test split (FSDD: 240 of its 2,700)."""
SPEEDS: tuple[float, ...] = (1.0,)
"""Speed perturbation of the training clips (`data.speed`): each epoch takes each clip at one
of these speeds; ``(1.0,)``, the clips as they are, because 0.9 / 1.0 / 1.1 bettered the
likelihood but made the audio worse (``docs/data/overfitting/speed3-s0``; results "What each
lever did")."""
CACHE_MEMORY_BYTES = 1 << 30
"""Spectrograms up to this size (1 GiB: 16,384 clips of 128 x 128) are cached in memory; a
larger set is cached on disk as shards (FSDD's 2,700 train clips take 169 MiB)."""
SHUFFLE_BUFFER = 4096
"""Clips held for shuffling a set cached on disk (256 MiB of 128 x 128 spectrograms); a set in
memory is shuffled whole."""

# Audio out (`synthesis`)
TEMPERATURE = 0.5
"""Spread of prior draws around their component: below 1 (the exact prior) every judged sample
figure improved, and 0.3 was no better than 0.5 (``docs/data/temperature_sweep.jsonl``; results
"What each lever did", the temperature row)."""
AUDIO_STATISTIC = "power"
"""The statistic of p(x | z) that becomes audio (`synthesis.waveforms.audible_spectrogram`): the
magnitude whose power is the expected power, so the output is as loud as the data; its level is
calibrated on the training residuals when training ends (`models.level.calibrate_level`)
(``docs/data/quality_ablation.jsonl``, ``docs/data/level_sources.jsonl``; results "The ablation
runs" and "The output level")."""
REFINE_STEPS = 50
"""Adam steps that refine each reconstruction's latent beyond the encoder's posterior mean
(`models.latents.refine_latents`; 0: the posterior mean): reconstructions were judged better
after 10, 20 and 50 steps, and 200 gave no more than 50 (``docs/data/refine_latents.jsonl``;
results "What each lever did", the refined-latents row)."""
REFINE_LEARNING_RATE = 0.05
"""Adam's step size for `refine_latents`, in latent units."""
GRIFFIN_LIM_ITERATIONS = 32
"""Fast Griffin-Lim iterations: 100 gave the same judged figures at 3x the cost
(``docs/data/quality_ablation.jsonl``; results "The ablation runs")."""

# Evaluation (`evaluation.metrics.evaluate`)
IWAE_K = 100
"""Importance samples of the IWAE bound on the test likelihood."""
GENERATED_CLIPS = 500
"""Generated clips behind each judged sample figure (Inception Score, Fréchet distance)."""

# Presets: named budgets over the defaults above
PRESETS: dict[str, dict[str, int]] = {
    "default": {"epochs": EPOCHS, "latent_dim": LATENT_DIM},
    "best": {"epochs": 100, "latent_dim": LATENT_DIM},
}
"""The settings that each preset sets (`train`'s ``epochs``, `build_vae`'s ``latent_dim``);
everything else is the defaults above. ``"best"``: 100 epochs instead of 30, about 3x the time,
for better audio and a far worse test likelihood (``docs/data/best/``; results "The best
preset")."""


JUDGE_CLIP_EPOCHS = 54_000
"""The training a data set's judge gets, in clips x epochs: FSDD's 2,700 training clips for 20
epochs. A smaller set gets more epochs, from 20 up to `JUDGE_MAX_EPOCHS` (`judge.judge_epochs`):
20 epochs on the 870 training clips of the espeak-ng digits (`experiments.espeak_digits`,
``full``) left a judge that knew 40 of their 90 test clips, 60 epochs one that knew all 90."""
JUDGE_MAX_EPOCHS = 100
"""The most epochs a judge trains for, however few its clips."""

RESOLUTION = "8k"
"""The resolution a run hears its audio at unless it names another (`training.run_spec.
ResolutionSpec`) or its data set has its own (`DATASET_RESOLUTIONS`): FSDD's own rate, the one
every figure of ``docs/results.md`` was measured at, and a folder's."""
DATASET_RESOLUTIONS = {"sc09": "16k"}
"""A built-in data set's own resolution where it is not `RESOLUTION`: SC09 at its native 16 kHz,
the rate of the published SC09 results (``docs/scaling-up.md`` has what it costs)."""
RESOLUTIONS: dict[str, dict[str, float]] = {
    "8k": {"sample_rate": 8000, "seconds": 1.024, "n_fft": 256, "hop_length": 64},
    "16k": {"sample_rate": 16000, "seconds": 1.024, "n_fft": 512, "hop_length": 128},
    "22k": {"sample_rate": 22050, "seconds": 1.024, "n_fft": 512, "hop_length": 128},
}
"""Named resolutions: sample rate (Hz), clip length (s), STFT frame and hop (samples).
``"8k"``: 128 bins x 128 frames, 32 ms frames every 8 ms. ``"16k"``: the same frames in time
with twice the bins (256 x 128), speech's wide band and SC09's own rate. ``"22k"``: 23 ms frames
every 5.8 ms (256 x 177), the rate the project's first FSDD write-up used. What each costs per
training example is in ``docs/data/resolutions.json`` (`benchmarks.bench_resolutions`); the
other settings were measured at 8 kHz only."""


def add_resolution_arguments(parser: argparse.ArgumentParser) -> None:
    """``--resolution NAME`` and the four settings that override its values, for
    `training.run_spec.ResolutionSpec.from_args`: the command line's and the examples' one
    definition of them."""
    named = "; ".join(
        f"{name}: {v['sample_rate']:g} Hz, {v['seconds']:g} s, STFT {v['n_fft']:g} / "
        f"{v['hop_length']:g}"
        for name, v in RESOLUTIONS.items()
    )
    parser.add_argument(
        "--resolution",
        choices=list(RESOLUTIONS),
        help=f"the sample rate, clip length and STFT the model hears ({named}); the options "
        f"below change one of them (default: {RESOLUTION}; SC09: "
        f"{DATASET_RESOLUTIONS['sc09']})",
    )
    for option, kind, meaning in (
        ("--sample-rate", int, "sample rate in Hz (files at other rates are resampled)"),
        ("--seconds", float, "clip length in seconds (longer clips are cut, shorter padded)"),
        ("--n-fft", int, "STFT frame length in samples (even)"),
        ("--hop-length", int, "STFT hop in samples"),
    ):
        parser.add_argument(option, type=kind, help=f"{meaning} (default: the resolution's)")


def add_preset_argument(parser: argparse.ArgumentParser) -> None:
    """``--preset NAME`` (default ``"default"``), for `apply_preset` to read: the command line's
    and the examples' one definition of it."""
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="the budget: the measured-best defaults, or best: 100 epochs instead of 30, "
        "about 3x the time (default: default)",
    )


def apply_preset(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options of ``args`` left unset (``None``) from the preset named ``args.preset``.

    Options given on the command line win over the preset, as they win over the defaults.
    """
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args
