"""The ``#### Examples`` of the public API's docstrings run as written, and print what they say.

A line ``expr  # ==> value`` is checked: ``expr`` is evaluated and compared with ``value`` (a
Python literal; numbers to 1e-5). Every other line runs as written, in order.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

import numpy as np
import pytest

import tfp_audio_vae
from tfp_audio_vae.models import local_prior, priors
from tfp_audio_vae.models.vae import VAE
from tfp_audio_vae.models.variants import build_vae
from tfp_audio_vae.synthesis.generation import generate
from tfp_audio_vae.training.fit import train

DOCUMENTED = [
    VAE,
    build_vae,
    train,
    generate,
    priors.Prior,
    priors.StandardNormalPrior,
    priors.MixtureOfGaussiansPrior,
    priors.VampPrior,
    priors.RealNVPPrior,
    local_prior,
]
CHECK = re.compile(r"^(?P<expr>.+?)\s+# ==> (?P<value>.+?)(?:\s+\(.*\))?$")


def examples(obj) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    section = doc.split("#### Examples", 1)[1] if "#### Examples" in doc else ""
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", section, re.S)]


@pytest.mark.parametrize("obj", DOCUMENTED, ids=lambda o: o.__name__)
def test_docstring_examples_run_and_print_what_they_say(obj):
    blocks = examples(obj)
    assert blocks, f"{obj.__name__} has no #### Examples block"
    namespace = {"np": np, **{name: getattr(tfp_audio_vae, name) for name in tfp_audio_vae.__all__}}
    namespace.update(vars(inspect.getmodule(obj)))
    checked = 0
    for block in blocks:
        pending: list[str] = []
        for line in block.splitlines():
            match = CHECK.match(line)
            if match is None or line.startswith((" ", "\t")):
                pending.append(line)
                continue
            exec(compile("\n".join(pending), obj.__name__, "exec"), namespace)  # noqa: S102
            pending = []
            actual = eval(match["expr"], namespace)  # noqa: S307
            expected = ast.literal_eval(match["value"])
            actual = list(actual) if hasattr(actual, "as_list") else actual  # TensorShape
            actual = actual.numpy() if hasattr(actual, "numpy") else actual
            np.testing.assert_allclose(
                np.asarray(actual, float),
                np.asarray(expected, float),
                rtol=1e-5,
                atol=1e-5,
                err_msg=f"{obj.__name__}: {line.strip()}",
            )
            checked += 1
        exec(compile("\n".join(pending), obj.__name__, "exec"), namespace)  # noqa: S102
    assert checked, f"{obj.__name__}'s examples check no value (# ==>)"
