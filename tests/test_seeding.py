"""Seeds reach initialisers and samplers explicitly; no library function touches a global generator.

The global generators are Python's ``random``, NumPy's legacy ``np.random`` and TensorFlow's
global seed with its op-seed counter (what ``tf.random.uniform([])`` draws from). A function
leaves them alone when the draws taken after it equal those of a fresh, identically seeded
reference that never ran it.
"""

from __future__ import annotations

import csv
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.evaluation import metrics
from tfp_audio_vae.evaluation.judge import Judge, build_judge, train_judge
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import train


def global_draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.random()), float(tf.random.uniform([]))


def assert_leaves_global_generators_alone(run) -> None:
    """Runs ``run()`` between two rounds of global draws and compares the second round with a
    reference that skipped ``run``."""
    keras.utils.set_random_seed(1234)
    global_draws()
    run()
    after = global_draws()
    keras.utils.set_random_seed(1234)
    global_draws()
    assert after == global_draws()


def tiny_waves(n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips of ``TINY_CONFIG.num_samples`` samples (noisy tones) and their digits."""
    rng = np.random.default_rng(seed)
    digits = (np.arange(n) % 10).astype("int32")
    t = np.arange(TINY_CONFIG.num_samples) / TINY_CONFIG.sample_rate
    waves = 0.3 * np.sin(2 * np.pi * (200.0 + 50.0 * digits[:, None]) * t)
    return (waves + 0.01 * rng.normal(size=waves.shape)).astype("float32"), digits


def history_column(run_dir, name: str) -> list[float]:
    with open(run_dir / "history.csv") as f:
        return [float(row[name]) for row in csv.DictReader(f)]


# --------------------------------------------------------------------------- no global effects


@pytest.mark.parametrize("variant", ["standard", "mog", "conditional"])
def test_build_vae_leaves_the_global_generators_alone(variant):
    assert_leaves_global_generators_alone(
        lambda: build_vae(TINY_CONFIG, variant, latent_dim=4, seed=3)
    )


def test_training_leaves_the_global_generators_alone(tmp_path):
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=3)
    data = random_batches()
    assert_leaves_global_generators_alone(
        lambda: train(
            model,
            data,
            tmp_path,
            epochs=1,
            validation_data=data,
            fit_prior_every=1,
            seed=3,
            verbose=0,
        )
    )


def test_bounds_and_unseeded_draws_leave_the_global_generators_alone():
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4, seed=3)
    data = random_batches(n=8, batch_size=4)
    x = next(iter(data))["spectrogram"]

    def run():
        metrics.likelihood(model, data, k=3)
        model.elbo(x)  # from the model's own seed generator
        model.iwae(x, k=3)
        model.sample(2)
        model(x)

    assert_leaves_global_generators_alone(run)


def test_evaluate_leaves_the_global_generators_alone():
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=3)
    judge = Judge(build_judge(num_samples=TINY_CONFIG.num_samples, seed=3))
    waves, digits = tiny_waves(10)
    results = {}

    def run():
        results.update(
            metrics.evaluate(model, waves, digits, judge, k=2, n_samples=10, n_iter=2, seed=5)
        )

    assert_leaves_global_generators_alone(run)
    assert {"likelihood", "reconstruction", "generation", "mixture"} <= set(results)


def test_train_judge_leaves_the_global_generators_alone():
    waves, digits = tiny_waves(20)
    assert_leaves_global_generators_alone(
        lambda: train_judge(waves, digits, epochs=1, batch_size=10, seed=3, verbose=0)
    )


# --------------------------------------------------------------------------- the seed decides


def test_the_build_seed_decides_the_initial_weights():
    def weights(seed):
        return build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=seed).get_weights()

    keras.utils.set_random_seed(1)
    first = weights(7)
    keras.utils.set_random_seed(2)  # another global state changes nothing
    second = weights(7)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    other = weights(8)
    random_parts = [i for i, w in enumerate(first) if np.std(w) > 0]  # kernels, prior means
    assert len(random_parts) >= 5
    for i in random_parts:
        assert not np.allclose(first[i], other[i]), i

    judge_a = build_judge(num_samples=TINY_CONFIG.num_samples, seed=7).get_weights()
    judge_b = build_judge(num_samples=TINY_CONFIG.num_samples, seed=7).get_weights()
    judge_c = build_judge(num_samples=TINY_CONFIG.num_samples, seed=8).get_weights()
    for a, b in zip(judge_a, judge_b, strict=True):
        np.testing.assert_array_equal(a, b)
    conv0 = next(i for i, w in enumerate(judge_a) if w.ndim == 4)  # the first conv kernel
    assert not np.allclose(judge_a[conv0], judge_c[conv0])


def test_the_same_build_seed_trains_the_same_way_whatever_the_global_state(tmp_path):
    runs = []
    for name, global_seed in (("a", 1), ("b", 2)):
        keras.utils.set_random_seed(global_seed)
        model = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=7)  # MC KL: draws matter
        history = train(model, random_batches(), tmp_path / name, epochs=2, verbose=0)
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]  # bit for bit, two steps per epoch
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)

    model = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=8)
    history = train(model, random_batches(), tmp_path / "c", epochs=2, verbose=0)
    assert history.history["loss"] != runs[0][0]


def test_a_resumed_run_repeats_the_uninterrupted_run(tmp_path):
    data, validation = random_batches(), random_batches(n=16, batch_size=8, seed=1)
    options = {"validation_data": validation, "verbose": 0}
    whole = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=7)
    train(whole, data, tmp_path / "whole", epochs=2, **options)

    class StopAfterFirstEpoch(keras.callbacks.Callback):  # runs after its checkpoint is written
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    first = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=7)
    with pytest.raises(KeyboardInterrupt):  # the same run, cut short (its schedule spans 2 epochs)
        train(
            first, data, tmp_path / "parts", epochs=2, callbacks=[StopAfterFirstEpoch()], **options
        )
    keras.utils.set_random_seed(99)  # a different global state in between changes nothing
    resumed = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=7)
    history = train(resumed, data, tmp_path / "parts", epochs=2, **options)
    assert history.epoch == [1]
    for column in ("loss", "val_loss"):  # training draws, and validation's from the generator
        assert history_column(tmp_path / "parts", column) == history_column(
            tmp_path / "whole", column
        )
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_explicit_seeds_fix_the_bounds_and_unseeded_calls_differ():
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=7)
    x = next(iter(random_batches(n=4, batch_size=4)))["spectrogram"]
    np.testing.assert_array_equal(model.elbo(x, seed=(1, 2)), model.elbo(x, seed=(1, 2)))
    assert not np.allclose(model.elbo(x, seed=(1, 2)), model.elbo(x, seed=(1, 3)))
    np.testing.assert_array_equal(model.iwae(x, k=4, seed=5), model.iwae(x, k=4, seed=5))
    assert not np.allclose(model.elbo(x), model.elbo(x))  # the generator moves on
    first = metrics.likelihood(model, random_batches(n=8, batch_size=4), k=3, seed=1)
    again = metrics.likelihood(model, random_batches(n=8, batch_size=4), k=3, seed=1)
    assert first == again


# --------------------------------------------------------------------------- saving


def test_a_saved_model_keeps_its_seeds(tmp_path):
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4, seed=5)
    loaded = load_model(save_model(model, tmp_path / "model.keras"))
    assert loaded.seed == 5
    assert loaded.encoder.seed == loaded.decoder.seed == loaded.prior.seed == 5
    assert loaded.get_config()["seed"] == 5
    assert loaded.encoder.get_config()["seed"] == loaded.decoder.get_config()["seed"] == 5
    # a loaded model's unseeded draws start where a freshly built one's do
    x = next(iter(random_batches(n=4, batch_size=4)))["spectrogram"]
    np.testing.assert_array_equal(loaded.elbo(x), model.elbo(x))
