"""`train(weight_decay=...)`: AdamW on the network, the prior left undecayed."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, random_batches
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.training.fit import optimizer, train


def test_a_step_with_no_gradient_shrinks_the_network_and_leaves_the_prior():
    model = build_vae(TINY_CONFIG, "mog", latent_dim=4, num_components=3, seed=0)
    adamw = optimizer(model, 0.1, clipnorm=None, weight_decay=0.5)
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    adamw.apply_gradients([(tf.zeros_like(v), v) for v in variables])
    prior = {id(v) for v in model.prior.trainable_variables}
    assert prior and len(prior) < len(variables)
    for v, old in zip(variables, before, strict=True):
        expected = old if id(v) in prior else old * (1 - 0.1 * 0.5)
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-6, err_msg=v.path)


def test_zero_decay_is_plain_adam_and_a_negative_one_is_refused():
    model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=0)
    assert type(optimizer(model, 1e-3, None, 0.0)).__name__ == "Adam"
    with pytest.raises(ValueError, match="weight_decay must be 0 or positive"):
        optimizer(model, 1e-3, None, -1e-4)


def test_decay_changes_training_and_the_run_repeats(tmp_path):
    def weights(weight_decay: float, folder: str) -> np.ndarray:
        model = build_vae(TINY_CONFIG, "standard", latent_dim=4, seed=0)
        train(
            model,
            random_batches(),
            tmp_path / folder,
            epochs=2,
            weight_decay=weight_decay,
            verbose=0,
        )
        return model.decoder.trainable_variables[0].numpy()

    decayed = weights(0.5, "a")
    np.testing.assert_array_equal(decayed, weights(0.5, "b"))
    assert np.linalg.norm(decayed) < np.linalg.norm(weights(0.0, "c"))
