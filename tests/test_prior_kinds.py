"""Any prior works everywhere: sampling with temperature, VampPrior and RealNVPPrior, and priors
whose weights Keras cannot see are refused when the model is built."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.priors import (
    MixtureOfGaussiansPrior,
    Prior,
    RealNVPPrior,
    VampPrior,
    sample_with_temperature,
)
from tfp_audio_vae.models.saving import load_model, save_model
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.synthesis.generation import generate
from tfp_audio_vae.training.fit import train

tfd, tfb = tfp.distributions, tfp.bijectors
Z = tf.random.stateless_normal([6, 4], seed=[1, 2])  # [6, latent]


class CauchyPrior(Prior):
    """A Student-t with df = 1: no mean, so no temperature but 1 can sample it."""

    def distribution(self, labels=None):
        return tfd.Independent(tfd.StudentT(df=1.0, loc=tf.zeros(self.latent_dim), scale=1.0), 1)


class RawVariablePrior(Prior):
    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.loc = tf.Variable(tf.zeros(latent_dim), name="raw_loc")

    def distribution(self, labels=None):
        return tfd.MultivariateNormalDiag(loc=self.loc * 1.0)


class TfKerasFlowPrior(Prior):
    """A masked autoregressive flow built the way TFP's docs show: a tf-keras network."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.made = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=latent_dim)

    def distribution(self, labels=None):
        base = tfd.MultivariateNormalDiag(loc=tf.zeros(self.latent_dim))
        return tfd.TransformedDistribution(base, tfb.MaskedAutoregressiveFlow(self.made))


def test_temperature_shrinks_each_mixture_draw_towards_its_own_component():
    mixture = tfd.MixtureSameFamily(
        tfd.Categorical(logits=[0.0, 0.0]),
        tfd.MultivariateNormalDiag(loc=[[-10.0, 0.0], [10.0, 0.0]], scale_diag=[[1.0, 1.0]] * 2),
    )
    hot = sample_with_temperature(mixture, 4000, temperature=1.0, seed=(0, 1)).numpy()
    cold = sample_with_temperature(mixture, 4000, temperature=0.25, seed=(0, 1)).numpy()
    for draws, spread in ((hot, 1.0), (cold, 0.25)):
        centre = np.where(draws[:, :1] > 0, 10.0, -10.0)  # [n, 1]: the component it came from
        assert np.mean(draws[:, :1] > 0) == pytest.approx(0.5, abs=0.03)  # both components
        np.testing.assert_allclose(np.std(draws[:, :1] - centre), spread, rtol=0.06)
        np.testing.assert_allclose(np.std(draws[:, 1]), spread, rtol=0.06)


def test_temperature_scales_a_flows_base_draw():
    flow = tfd.TransformedDistribution(
        tfd.MultivariateNormalDiag(loc=tf.zeros(2)), tfb.Shift([3.0, -1.0])
    )
    draws = sample_with_temperature(flow, 4000, temperature=0.5, seed=(2, 3)).numpy()
    np.testing.assert_allclose(draws.mean(axis=0), [3.0, -1.0], atol=0.05)
    np.testing.assert_allclose(draws.std(axis=0), [0.5, 0.5], rtol=0.06)


def test_a_prior_without_a_mean_samples_at_temperature_one_and_says_why_not_otherwise():
    prior = CauchyPrior(latent_dim=3)
    assert np.isfinite(prior.sample(5, seed=(0, 1)).numpy()).all()  # no mean is computed
    with pytest.raises(ValueError, match="no mean: sample at temperature 1, or override"):
        prior.sample(5, temperature=0.5, seed=(0, 1))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive finite"):
            prior.sample(5, temperature=bad)


@pytest.mark.parametrize(
    "prior",
    [
        VampPrior(4, num_pseudo_inputs=3),
        RealNVPPrior(4, num_layers=2, hidden_units=(8,)),
        CauchyPrior(4),
    ],
    ids=["vamp", "realnvp", "cauchy"],
)
def test_every_prior_trains_saves_reloads_and_generates(prior, tmp_path):
    model = build_vae(TINY_CONFIG, prior, latent_dim=4)
    before = [w.numpy().copy() for w in model.prior.trainable_weights]
    # constant rate: the cosine warm-up's first step has rate 0, and a flow's zero-started output
    # layer must move before its hidden layers get a gradient, so two steps would not show it
    train(
        model, random_batches(n=32), tmp_path / "run", epochs=1, lr_schedule="constant", verbose=0
    )
    after = [w.numpy() for w in model.prior.trainable_weights]
    assert all(not np.allclose(a, b) for a, b in zip(before, after, strict=True))  # all trained
    reloaded = load_model(save_model(model, tmp_path / "model.keras"))
    np.testing.assert_array_equal(reloaded.prior.log_prob(Z), model.prior.log_prob(Z))
    temperatures = (1.0,) if isinstance(prior, CauchyPrior) else (1.0, 0.5)
    for temperature in temperatures:
        waves = generate(reloaded, 2, temperature=temperature, n_iter=2, seed=3)  # [2, samples]
        assert waves.shape == (2, TINY_CONFIG.num_samples) and np.isfinite(waves).all()


def test_vamp_prior_is_the_mixture_of_the_encoders_posteriors_at_its_pseudo_inputs():
    model = build_vae(TINY_CONFIG, VampPrior(4, num_pseudo_inputs=3), latent_dim=4)
    prior = model.prior
    assert prior.pseudo_inputs.shape == (3, *TINY_CONFIG.shape)
    posteriors = model.encode(prior.pseudo_inputs)  # batch [3]
    expected = tf.reduce_logsumexp(posteriors.log_prob(Z[:, None, :]), axis=1) - np.log(3.0)
    np.testing.assert_allclose(prior.log_prob(Z), expected, rtol=1e-5)
    # the encoder's weights are the VAE's: counted once, not again under the prior
    assert len(model.trainable_weights) == len({id(w) for w in model.trainable_weights})
    assert [w.name for w in prior.trainable_weights] == ["pseudo_inputs"]


def test_realnvp_prior_starts_as_the_standard_normal_and_is_a_density():
    prior = RealNVPPrior(2, num_layers=2, hidden_units=(8,))
    standard = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    np.testing.assert_allclose(prior.log_prob(Z[:, :2]), standard.log_prob(Z[:, :2]), rtol=1e-6)
    for w in prior.trainable_weights:  # move off the identity
        w.assign(w + tf.random.stateless_normal(w.shape, seed=[4, 5], stddev=0.3))
    grid = np.stack(np.meshgrid(*[np.linspace(-8, 8, 161)] * 2), -1).reshape(-1, 2)
    mass = np.exp(prior.log_prob(tf.constant(grid, tf.float32)).numpy()).sum() * 0.1**2
    assert mass == pytest.approx(1.0, abs=0.02)  # still integrates to one


@pytest.mark.parametrize(
    ("prior", "names"),
    [(RawVariablePrior(4), "raw_loc"), (TfKerasFlowPrior(4), "dense")],
    ids=["raw-variable", "tf-keras-network"],
)
def test_a_prior_whose_weights_keras_cannot_see_is_refused_when_the_model_is_built(prior, names):
    with pytest.raises(TypeError, match=rf"does not track \(.*{names}.*never train or be saved"):
        build_vae(TINY_CONFIG, prior, latent_dim=4)


def test_a_conditional_mixture_samples_per_label_at_any_temperature():
    prior = MixtureOfGaussiansPrior(2, 4, conditional=True, components_per_class=2, seed=1)
    labels = tf.constant([0, 1] * 200)
    draws = prior.sample(400, labels, temperature=1e-4, seed=(5, 6)).numpy()
    nearest = np.argmin(((draws[:, None] - prior.means.numpy()) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest // 2, labels.numpy())  # each draw from its class


def _unlabelled(n: int = 16) -> tf.data.Dataset:
    x = next(iter(random_batches(n=n, batch_size=n)))["spectrogram"]
    return tf.data.Dataset.from_tensor_slices({"spectrogram": x, "label": -tf.ones([n], tf.int32)})


@pytest.mark.parametrize(
    ("variant", "data", "settings", "message"),
    [
        ("standard", None, {"fit_prior_every": 5}, "has no fit_to_posteriors"),
        ("conditional", None, {"fit_prior_every": -1}, "fit_prior_every must be 0"),
        ("conditional", "unlabelled", {}, "16 training examples have none"),
        ("conditional", None, {"learning_rate": float("nan")}, "learning rate must be positive"),
        ("conditional", None, {"epochs": 0}, "epochs must be at least 1"),
    ],
    ids=["refit-standard", "negative-refit", "unlabelled", "nan-lr", "no-epochs"],
)
def test_settings_that_cannot_work_are_refused_before_any_training(
    variant, data, settings, message, tmp_path
):
    model = build_vae(TINY_CONFIG, variant, latent_dim=4, num_classes=10)
    batches = _unlabelled().batch(8) if data == "unlabelled" else random_batches(n=16)
    before = [w.numpy().copy() for w in model.trainable_weights]
    with pytest.raises(ValueError, match=message):
        train(model, batches, tmp_path / "run", **{"epochs": 1, **settings}, verbose=0)
    assert all(
        np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights, strict=True)
    )
    assert not (tmp_path / "run").exists()  # nothing written


def test_labels_outside_a_conditional_priors_classes_are_refused(tmp_path):
    model = build_vae(TINY_CONFIG, "conditional", latent_dim=4, num_classes=5)
    with pytest.raises(ValueError, match=r"labels run up to 9, but .* has 5 classes \(0-4\)"):
        train(model, random_batches(n=16), tmp_path / "run", epochs=1, verbose=0)
