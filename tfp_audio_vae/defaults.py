"""The package's one set of defaults: the measured-best settings, defined once.

`build_vae`, `train`, `generate`, `evaluate`, the command line and `examples/compare_priors.py`
all take their defaults from here, so the Python API, the CLI and the examples agree. Each value
is the best measured on FSDD at the default budget (`docs/results.md` has the runs behind them).
"""

from __future__ import annotations

import argparse

# The model (`models.variants.build_vae`)
PRIOR = "conditional"
"""A mixture prior with components tied to the classes, trained with the labels."""
LATENT_DIM = 64
"""Measured on FSDD at 30 epochs against 32 (mixture VAE, judge v2, seeds 0 and 1): Inception
Score 8.16 and 8.21 against 7.91 +- 0.21 over six runs of 32, the other judged figures within
their run-to-run spread, for the same multiply-adds. 128 (seed 0) was no better: reconstructions
91.3%, IS 8.31, FD 7.41 against 92.0%, 8.51 and 7.10 for 64 on the same seed, and −IWAE 1,445
against 1,040 nats."""
NUM_CLASSES = 10
"""Classes of a conditional prior (components of an unsupervised mixture): FSDD's digits."""
COMPONENTS_PER_CLASS = 24
"""Mixture components per class, fitted by EM to where the encoder puts that class's clips.
Measured on FSDD (mixture VAE at the other defaults, `benchmarks/lever_pilot.py`, seed 0): 12,
24 and 48 gave Fréchet distances of prior samples of 7.5, 5.5 and 5.3, Inception Scores 8.37,
8.89 and 8.78, digit samples 92.4%, 96.6% and 97.2%, and test −IWAE 1,267, 1,110 and 1,205
nats, at the same training cost; on seed 1, 24 against 12 gave FD 6.2 against 8.0, IS 8.74
against 8.08 and digit samples 97.2% against 92.8%; reconstructions moved by 0 to −1 point.
Three seeds of the default with 24 (`docs/results.md`): IS 8.71 ± 0.07, FD 6.1 ± 0.6, digit
samples 96.0% ± 1.1%."""
NETWORK = "conv1d"
"""The encoder and decoder (`models.variants.NETWORKS`): frequency bins as channels of 1-D
convolutions over time. Measured on FSDD at 30 epochs against ``"conv2d"`` (0.55x its cost per
example): reconstructions recognised 92.7% vs 78.0%, Inception Score 5.89 vs 4.37."""
DECODER_SCALE = "optimal"
"""The likelihood's scale: per frequency bin, the batch's RMS error in training (the σ-VAE's
calibrated decoder), a running average of it in evaluation. Measured on FSDD at 30 epochs (mixture
VAE, judge v2) against one learned value per bin (``"bin"``): test −IWAE 689 vs 1,217 nats,
log-spectral distance 3.97 vs 4.87 dB, reconstructions recognised 87.0% vs 85.0%, at the same cost."""

# Training (`training.fit.train`)
EPOCHS = 30
"""30 epochs of ``"conv1d"`` take no longer than the 30 of ``"conv2d"`` they replaced (0.72x the
multiply-adds; 0.55x the step time measured alternately on a loaded machine)."""
BATCH_SIZE = 32
"""Measured on FSDD at 30 epochs against 64 (mixture VAE, judge v2): reconstructions recognised
89.0% vs 85.0%, Fréchet distance 9.9 vs 12.2, test −IWAE 962 vs 1,217 nats, at 0.96x the cost per
example: 2,700 clips give only 1,270 steps of 64 in 30 epochs, and twice as many steps of 32 learn
more for the same multiply-adds."""
LEARNING_RATE = 2e-3
"""Adam's peak learning rate."""
LR_SCHEDULE = "cosine"
"""``"cosine"``: one warm-up epoch, then a cosine decay to 0 at the last epoch; or
``"constant"``."""
CLIPNORM = 10.0
WEIGHT_DECAY = 0.0
"""AdamW's decoupled weight decay of the network's weights (0: plain Adam)."""
FIT_PRIOR_EVERY = 5
"""Epochs between EM refits of a refittable prior to the aggregate posterior (and one at the
end); priors without ``fit_to_posteriors`` are never refitted."""
STRATEGY = "auto"
"""The distribution strategy (`training.distribute.make_strategy`): several workers when
``TF_CONFIG`` names a cluster, else TensorFlow's default one-device strategy."""

# Data (`data.pipeline.spectrogram_dataset`)
SPEEDS: tuple[float, ...] = (1.0,)
"""Speed perturbation of the training clips (`data.speed`): each epoch takes each clip at one
of these speeds; ``(1.0,)``: the clips as they are. 0.9, 1.0, 1.1 (mixture VAE, seed 0) cut the
test −IWAE from 1,040 to 632 nats, but made the audio worse: reconstructions 87.3% against
92.0%, IS 6.37 against 8.51, FD 17.4 against 7.1."""
CACHE_MEMORY_BYTES = 1 << 30
"""Spectrograms up to this size (1 GiB: 16,384 clips of 128 x 128) are cached in memory; a
larger set is cached on disk as shards (FSDD's 2,700 train clips take 169 MiB)."""
SHUFFLE_BUFFER = 4096
"""Clips held for shuffling a set cached on disk (256 MiB of 128 x 128 spectrograms); a set in
memory is shuffled whole."""

# Audio out (`synthesis`)
TEMPERATURE = 0.5
"""Spread of prior draws around their component (mixture VAE of the default run, seed 0,
`benchmarks/temperature_sweep.py`): digit samples were recognised 94.4% of the time at 0.5,
92.4% at 0.7 and 87.2% at 1 (the exact prior); IS 8.51, 8.15, 7.55; FD 7.10, 7.72, 8.84.
With 24 components per digit: 97.2%, 97.2%, 93.0%; IS 8.68, 8.52, 7.95; FD 6.21, 6.31, 7.31
(0.3: 97.0%, IS 8.73, FD 6.21)."""
AUDIO_STATISTIC = "power"
"""The statistic of p(x | z) that becomes audio (`synthesis.waveforms.audible_spectrogram`): the
magnitude whose power is the expected power, so the output is as loud as the data; its level is
calibrated on the training residuals when training ends (`synthesis.level.calibrate_level`)."""
REFINE_STEPS = 50
"""Adam steps that refine each reconstruction's latent beyond the encoder's posterior mean
(`models.latents.refine_latents`). On the default mixture VAEs of seeds 0, 1, 2
(`benchmarks/refine_latents.py`, `docs/data/refine_latents.jsonl`) reconstructions were judged
90.6%, 92.6%, 93.9% and 94.3% on average after 0, 10, 20 and 50 steps (LSD 4.26, 4.17, 4.15,
4.12 dB), at 63-89 ms a clip for 50 steps on 2 cores; 200 steps gave no more than 50 on seed 0
(95.3% both). 0: the posterior mean."""
REFINE_LEARNING_RATE = 0.05
"""Adam's step size for `refine_latents`, in latent units."""
GRIFFIN_LIM_ITERATIONS = 32
"""Fast Griffin-Lim iterations: 100 gave the same judged figures at 3x the cost."""

# Evaluation (`evaluation.metrics.evaluate`)
IWAE_K = 100
GENERATED_CLIPS = 500

# Presets: named budgets over the defaults above
PRESETS: dict[str, dict[str, int]] = {
    "default": {"epochs": EPOCHS, "latent_dim": LATENT_DIM},
    "best": {"epochs": 100, "latent_dim": LATENT_DIM},
}
"""The settings that each preset sets (`train`'s ``epochs``, `build_vae`'s ``latent_dim``);
everything else is the defaults above. ``"best"``: 100 epochs instead of 30. Measured on FSDD
(seed 0, the example's mixture VAE, on one idle machine): 21.5 minutes against 7.6 for the
default (2.8x), reconstructions recognised 97.0% against 93.3% ± 1.2% (three seeds of the
default), Inception Score 9.11 against 8.71, Fréchet distance 3.8 against 6.1, digit samples
98.6% against 96.0%; but the test likelihood far worse (−IWAE 8,472 against 1,173 nats: 2,700
clips overfit) and reconstructions 1.9 dB quiet. `docs/results.md` has both runs."""


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
