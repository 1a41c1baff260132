"""A validation split carved from the training records: seeded, stratified by class and speaker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

Record = TypeVar("Record")


def carve_validation(
    records: Sequence[Record], fraction: float, seed: int = 0
) -> tuple[list[Record], list[Record]]:
    """Splits ``records`` into (train, validation), about ``fraction`` of them validating.

    The records are grouped by class (``label``) and speaker (``speaker``), where they have
    them (records without either form one group), and each group gives ``round(fraction * n)``
    of its ``n`` records, drawn with ``seed``; groups keep their order and so do the splits.
    Every class and speaker is represented in both splits in proportion, and the test split is
    never touched: it stays for the figures reported once training is over.

    Args:
      records: the training records (`pipeline.AudioRecord`s), in a fixed order.
      fraction: the share that validates, in [0, 1).
      seed: the draw; the same seed and records give the same split.
    Returns:
      ``(train, validation)``, disjoint lists whose union is ``records``.
    Raises:
      ValueError: a fraction outside [0, 1), or one that leaves a group with no training record.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the validation fraction must be in [0, 1), got {fraction}")
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[(getattr(record, "label", -1), getattr(record, "speaker", ""))].append(i)
    rng = np.random.default_rng(seed)
    held: set[int] = set()
    for key in sorted(groups):
        members = groups[key]
        n = round(fraction * len(members))
        if n >= len(members) and fraction > 0:
            raise ValueError(
                f"a validation fraction of {fraction} leaves no training clip of class {key[0]}, "
                f"speaker {key[1]!r} ({len(members)} clips): use a smaller fraction"
            )
        held.update(members[j] for j in rng.permutation(len(members))[:n])
    train = [r for i, r in enumerate(records) if i not in held]
    validation = [r for i, r in enumerate(records) if i in held]
    return train, validation
