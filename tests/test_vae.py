"""The VAE: KL modes, bounds, training of every prior weight, and a prior written outside the package."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.priors import Prior
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.vae import iwae_bound
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import train

tfd = tfp.distributions


class StudentTPrior(Prior):
    """A user's own prior, defined here and not in the package: a learnable-scale Student-t."""

    def __init__(self, latent_dim: int, df: float = 4.0, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.df = float(df)
        self.log_scale = self.add_weight(shape=(latent_dim,), initializer="zeros", name="log_scale")

    def distribution(self, labels=None):
        return tfd.Independent(
            tfd.StudentT(df=self.df, loc=tf.zeros(self.latent_dim), scale=tf.exp(self.log_scale)),
            reinterpreted_batch_ndims=1,
        )

    def get_config(self):
        return {**super().get_config(), "df": self.df}


def batch():
    return next(iter(random_batches(n=16, batch_size=16)))


def test_analytic_and_monte_carlo_kl_agree_for_a_normal_prior():
    keras.utils.set_random_seed(0)
    analytic = build_vae(TINY_CONFIG, "standard", latent_dim=8, kl="analytic", kl_samples=1)
    mc = build_vae(TINY_CONFIG, "standard", latent_dim=8, kl="mc", kl_samples=2000)
    mc.set_weights(analytic.get_weights())
    x = batch()["spectrogram"]
    kl_analytic = analytic.elbo_terms(x)["kl"].numpy()
    kl_mc = mc.elbo_terms(x)["kl"].numpy()
    # KL(q||N(0,I)) for a diagonal q: the MC estimate's std over 2000 draws is tiny; 5% suffices.
    np.testing.assert_allclose(kl_mc, kl_analytic, rtol=0.05, atol=0.05)
    assert analytic.kl_mode(analytic.encode(x), analytic.prior.distribution()) == "analytic"


def test_auto_kl_falls_back_to_monte_carlo_for_a_mixture_and_analytic_mode_refuses_it():
    auto = build_vae(TINY_CONFIG, "mog", latent_dim=4, kl="auto")
    x = batch()["spectrogram"]
    assert auto.kl_mode(auto.encode(x), auto.prior.distribution()) == "mc"
    strict = build_vae(TINY_CONFIG, "mog", latent_dim=4, kl="analytic")
    with pytest.raises(NotImplementedError, match="no analytic KL.*MixtureSameFamily"):
        strict.elbo_terms(x)


def test_conditional_prior_uses_labels_and_an_analytic_kl():
    # one Gaussian per class: p(z | y) is Gaussian, so the KL has a closed form
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4, components_per_class=1)
    data = batch()
    posterior = model.encode(data["spectrogram"])
    assert model.kl_mode(posterior, model.prior.distribution(data["label"])) == "analytic"
    with_labels = model.elbo_terms(data["spectrogram"], data["label"])["kl"]
    shuffled = model.elbo_terms(data["spectrogram"], tf.roll(data["label"], 1, 0))["kl"]
    assert not np.allclose(with_labels.numpy(), shuffled.numpy())


def test_elbo_terms_are_per_example_and_consistent():
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4)
    terms = model.elbo_terms(batch()["spectrogram"])
    for values in terms.values():
        assert values.shape == (16,)
        assert np.all(np.isfinite(values.numpy()))
    np.testing.assert_allclose(terms["neg_elbo"], terms["nll"] + terms["kl"], rtol=1e-6)
    dims = np.prod(TINY_CONFIG.shape)
    np.testing.assert_allclose(
        terms["bits_per_dim"], terms["neg_elbo"] / (dims * np.log(2)), rtol=1e-6
    )
    assert np.all(terms["kl"].numpy() >= 0)


def test_iwae_bounds_the_elbo_and_tightens_with_k():
    keras.utils.set_random_seed(1)
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4)
    x = batch()["spectrogram"][:4]
    elbo = np.mean([model.elbo(x).numpy() for _ in range(20)], axis=0)  # [4]
    iwae_5 = np.mean([model.iwae(x, k=5).numpy() for _ in range(10)], axis=0)
    iwae_50 = np.mean([model.iwae(x, k=50).numpy() for _ in range(10)], axis=0)
    assert np.mean(iwae_5) >= np.mean(elbo)
    assert np.mean(iwae_50) >= np.mean(iwae_5)


def test_one_set_of_importance_weights_gives_the_marginal_and_per_digit_bounds():
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4, components_per_class=2)
    data = batch()
    x, labels = data["spectrogram"][:6], tf.cast(data["label"][:6], tf.int32)
    z, log_w = model.importance_weights(x, k=12, chunk=24, seed=3)  # [12, 6, 4], [12, 6]
    assert z.shape == (12, 6, 4) and log_w.shape == (12, 6)
    given = iwae_bound(log_w + model.prior.log_prob(z, labels))  # [6]
    np.testing.assert_allclose(model.iwae(x, k=12, labels=labels, chunk=24, seed=3), given)
    # p(z) = sum_d p(d) p(z | d) >= p(y) p(z | y) at every draw, so with shared draws the marginal
    # bound is never below the per-digit one plus log p(y), here log(1/10)
    marginal = iwae_bound(log_w + model.prior.log_prob(z))
    assert np.all(marginal.numpy() >= given.numpy() + np.log(0.1) - 1e-3)
    assert not np.allclose(marginal.numpy(), given.numpy())


def test_one_training_step_changes_every_mixture_prior_weight():
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = {v.path: v.numpy().copy() for v in model.prior.trainable_variables}
    assert len(before) == 3  # logits, means, raw scales
    model.fit(random_batches(n=16), epochs=1, shuffle=False, verbose=0)
    for variable in model.prior.trainable_variables:
        assert not np.allclose(variable.numpy(), before[variable.path]), variable.path


def test_a_user_prior_subclass_trains_saves_loads_and_samples(tmp_path):
    keras.utils.set_random_seed(2)
    model = build_vae(TINY_CONFIG, StudentTPrior(latent_dim=4, df=3.0))
    assert model.kl_mode(model.encode(batch()["spectrogram"]), model.prior.distribution()) == "mc"
    before = model.prior.log_scale.numpy().copy()
    history = train(model, random_batches(), tmp_path / "run", epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(model.prior.log_scale.numpy(), before)

    path = save_model(model, tmp_path / "student.keras")
    loaded = load_model(path)
    assert isinstance(loaded.prior, StudentTPrior) and loaded.prior.df == 3.0
    np.testing.assert_allclose(loaded.prior.log_scale.numpy(), model.prior.log_scale.numpy())
    x = batch()["spectrogram"][:3]
    np.testing.assert_allclose(loaded.reconstruct(x).numpy(), model.reconstruct(x).numpy())
    samples = loaded.sample(5, seed=0)
    assert samples.shape == (5, *TINY_CONFIG.shape)
    assert loaded.spectrogram_config == TINY_CONFIG


def test_saved_models_carry_their_spectrogram_config_and_need_no_code_from_the_file(tmp_path):
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4)
    path = save_model(model, tmp_path / "m.keras")
    loaded = load_model(path)
    assert loaded.spectrogram_config == TINY_CONFIG
    assert loaded.prior.conditional
    with pytest.raises(ValueError, match=r"\.keras"):
        save_model(model, tmp_path / "m.h5")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.keras"):
        load_model(tmp_path / "junk.keras")


def test_bad_vae_arguments_are_refused():
    with pytest.raises(ValueError, match="kl"):
        build_vae(TINY_CONFIG, "standard", kl="exact")
    with pytest.raises(ValueError, match="variant"):
        build_vae(TINY_CONFIG, "vampire")


def test_spectrograms_at_the_log_floor_give_finite_bounds_and_gradients():
    # silence and padding sit exactly at log(log_floor): in model space a constant per bin
    floor = (np.log(TINY_CONFIG.log_floor) - np.array(TINY_CONFIG.mean)) / np.array(TINY_CONFIG.std)
    x = tf.constant(
        np.broadcast_to(floor[None, :, None, None], (4, *TINY_CONFIG.shape)), tf.float32
    )
    for variant in ("standard", "mog", "conditional"):
        model = build_vae(TINY_CONFIG, variant, latent_dim=4)
        with tf.GradientTape() as tape:
            terms = model.elbo_terms(x, tf.constant([0, 1, 2, 3]))
            loss = tf.reduce_mean(terms["neg_elbo"])
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(np.all(np.isfinite(v.numpy())) for v in terms.values())
        assert all(np.all(np.isfinite(tf.convert_to_tensor(g))) for g in grads if g is not None)
        assert np.all(np.isfinite(model.iwae(x, k=4).numpy()))
