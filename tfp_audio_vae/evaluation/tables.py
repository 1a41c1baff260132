"""Results as Markdown tables: one formatter for the example, the experiments and the model card.

A column is ``(header, dotted key, format)``: the key finds the value in a row's nested dict
(``"generation.unconditional.inception_score"``), the format writes it (``"{:.2f}"``); a row that
lacks the value gets ``–``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Column = tuple[str, str, str]
"""A table column: its header, the dotted key of its value in a row, its format (``"{:.1%}"``)."""

EVALUATE_COLUMNS: list[Column] = [
    ("test -ELBO (nats)", "likelihood.neg_elbo", "{:.0f}"),
    ("test -IWAE (nats)", "likelihood.neg_iwae", "{:.0f}"),
    ("bits/dim (IWAE)", "likelihood.bits_per_dim_iwae", "{:.3f}"),
    ("KL (nats)", "likelihood.kl", "{:.1f}"),
    ("active units", "active_units", "{:.0f}"),
    ("recon. SC", "reconstruction.spectral_convergence", "{:.3f}"),
    ("recon. LSD (dB)", "reconstruction.log_spectral_distance_db", "{:.2f}"),
    ("recon. judged", "reconstruction.judge_accuracy", "{:.1%}"),
    ("recon. level (dB)", "reconstruction.level_db", "{:+.1f}"),
    ("IS (prior samples)", "generation.unconditional.inception_score", "{:.2f}"),
    ("FD to test", "generation.unconditional.frechet_distance", "{:.2f}"),
    ("sample level (dB)", "generation.unconditional.level_db", "{:+.1f}"),
    ("digit samples judged", "generation.conditional.accuracy", "{:.1%}"),
]
"""The figures of `metrics.evaluate` (and of ``tfp-audio-vae evaluate``'s ``metrics.json``)."""

BOUND_COLUMNS: list[Column] = [
    ("train -ELBO (nats)", "training_bound.neg_elbo", "{:.0f}"),
    ("validation -ELBO, best", "held_out.best.val_neg_elbo", "{:.0f}"),
    ("at epoch", "held_out.best.epoch", "{:.0f}"),
    ("validation -ELBO, last", "held_out.last.val_neg_elbo", "{:.0f}"),
]
"""The bound on training clips and on the validation clips (best epoch and last), as
``examples/compare_priors.py`` records them beside `EVALUATE_COLUMNS`: with the test bound, the
likelihood's generalisation gap."""


def lookup(row: Mapping[str, Any], key: str) -> Any:
    """``row``'s value at a dotted ``key`` (``"generation.unconditional.level_db"``), else None."""
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A Markdown table: one line per row, one cell per column (``–`` where the row lacks it)."""
    lines = [
        "| " + " | ".join(header for header, _, _ in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = []
        for _, key, fmt in columns:
            value = lookup(row, key)
            cells.append("–" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
