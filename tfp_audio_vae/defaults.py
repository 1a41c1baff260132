"""The package's one set of defaults: the measured-best settings, defined once.

`build_vae`, `train`, `generate`, `evaluate`, the command line and `examples/compare_priors.py`
all take their defaults from here, so the Python API, the CLI and the examples agree. Each value
is the best measured on FSDD at the default budget (`docs/results.md` has the runs behind them).
"""

from __future__ import annotations

# The model (`models.variants.build_vae`)
PRIOR = "conditional"
"""A mixture prior with components tied to the classes, trained with the labels."""
LATENT_DIM = 32
NUM_CLASSES = 10
"""Classes of a conditional prior (components of an unsupervised mixture): FSDD's digits."""
COMPONENTS_PER_CLASS = 12
"""Mixture components per class: FSDD's digits spread over its six speakers."""
NETWORK = "conv2d"
"""The encoder and decoder (`models.variants.NETWORKS`)."""
DECODER_SCALE = "bin"
"""The likelihood's scale: one learned value per frequency bin."""

# Training (`training.fit.train`)
EPOCHS = 30
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
LR_SCHEDULE = "constant"
"""``"constant"``, or ``"cosine"`` (one warm-up epoch, then a cosine decay to 0)."""
CLIPNORM = 10.0
FIT_PRIOR_EVERY = 5
"""Epochs between EM refits of a refittable prior to the aggregate posterior (and one at the
end); priors without ``fit_to_posteriors`` are never refitted."""

# Audio out (`synthesis`)
TEMPERATURE = 0.5
"""Spread of prior draws around their component: digit samples were recognised 79% of the time
at 0.5 against 68% at 1 (the exact prior)."""
GRIFFIN_LIM_ITERATIONS = 32

# Evaluation (`evaluation.metrics.evaluate`)
IWAE_K = 100
GENERATED_CLIPS = 500
