"""Training a judge: `train_judge` fits `network.build_judge` to labelled waveforms."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfp_audio_vae import defaults
from tfp_audio_vae.deprecation import renamed_keywords
from tfp_audio_vae.evaluation.judge.network import build_judge

SECONDS_PER_CLIP_EPOCH = 4.4e-3
"""The judge's training time per clip and epoch, for progress lines' estimates: about 4 minutes
for FSDD's 2,700 clips x 20 epochs on a 2-core AMD EPYC at 216 GFLOP/s fp32 matmul."""


@renamed_keywords(digits="labels")
def train_judge(
    waves: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int = defaults.NUM_CLASSES,
    epochs: int = 20,
    seed: int = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    verbose: int | str = "auto",
) -> keras.Model:
    """Trains a judge (`network.build_judge`) on waveforms with their class labels.

    Adam with a cosine learning-rate decay over all steps, cross-entropy, seeded shuffling.

    Args:
      waves: float32 ``[n, samples]`` at 8 kHz (``samples`` fixes the model's input length).
      labels: int ``[n]``, the class labels, in 0 .. ``num_classes`` - 1 (``digits=`` is a
        deprecated alias until 0.3).
      num_classes: the judge's classes (`defaults.NUM_CLASSES`, FSDD's ten, by default).
      epochs: passes over ``waves``.
      seed: seeds the weights, the shuffling, the augmentation and the dropout, each explicitly:
        no global generator is seeded or advanced (the command, ``python -m
        tfp_audio_vae.evaluation.judge``, seeds them for itself).
      validation: optional ``(waves, labels)`` evaluated after every epoch (``val_accuracy``).
      batch_size, learning_rate: Adam's batch size and peak learning rate.
      verbose: Keras verbosity.
    Returns:
      the trained `keras.Model` (wrap it in `network.Judge` to use it).
    """
    waves = np.asarray(waves, np.float32)  # [n, samples]
    labels = np.asarray(labels, np.int32)  # [n]
    if waves.ndim != 2 or len(waves) != len(labels):
        raise ValueError(
            f"need waves [n, samples] and labels [n], got {waves.shape}, {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in 0-{num_classes - 1}")
    model = build_judge(num_samples=waves.shape[1], seed=seed, num_classes=num_classes)
    steps = epochs * math.ceil(len(waves) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    data = (
        tf.data.Dataset.from_tensor_slices((waves, labels))
        .shuffle(len(waves), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(data, epochs=epochs, validation_data=validation, shuffle=False, verbose=verbose)
    return model
