"""Explicit seeds: the package never seeds, reads or advances a global random generator.

Library functions take a ``seed`` and pass it on: integer seeds derived here for the weight
initialisers of each layer, stateless ``[2]`` seeds for TensorFlow Probability's samplers. Seeding
Python, NumPy and TensorFlow globally (``keras.utils.set_random_seed``) is left to entry points:
the command line, the examples and the judge's ``main``.
"""

from __future__ import annotations

import zlib

import keras
import numpy as np
import tensorflow as tf


def derive_seed(seed: int, *keys: int | str) -> int:
    """A seed in ``[0, 2**31)`` derived from ``seed`` and ``keys`` (e.g. a layer's name and index).

    Distinct keys give unrelated seeds, so two layers built from one seed never share a random
    stream (as ``seed + i`` for one layer and ``seed + 1`` for another would). The same arguments
    give the same seed in every process.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    words = [int(seed) % 2**32]
    for key in keys:
        words.append(zlib.crc32(key.encode()) if isinstance(key, str) else int(key) % 2**32)
    return int(np.random.SeedSequence(words).generate_state(1, np.uint32)[0] >> 1)


def glorot_uniform(seed: int, *keys: int | str) -> keras.initializers.GlorotUniform:
    """Keras' default kernel initializer, seeded with `derive_seed` ``(seed, *keys)``.

    An unseeded Keras initializer draws its seed from Python's global generator; this one does not.
    """
    return keras.initializers.GlorotUniform(seed=derive_seed(seed, *keys))


def stateless_seed(seed: int | tuple[int, int] | tf.Tensor) -> tf.Tensor:
    """An int32 ``[2]`` stateless seed: an int ``s`` becomes ``[s, 0]``; a pair or tensor is cast.

    The same seed gives the same draws from TensorFlow Probability's ``sample(seed=...)``, which
    then touches no global generator.
    """
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        seed = (int(seed), 0)
    seed = tf.convert_to_tensor(seed)
    if seed.dtype != tf.int32:
        seed = tf.cast(seed, tf.int32)  # int64 values wrap modulo 2**32
    return seed
