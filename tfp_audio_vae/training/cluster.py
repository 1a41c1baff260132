"""Which distribution strategy a training run asks for, and the cluster in ``TF_CONFIG``.

Plain Python (no TensorFlow import), so the command line can refuse a bad ``TF_CONFIG`` before
TensorFlow starts; `training.distribute` makes the strategy itself.
"""

from __future__ import annotations

import json
import os
from typing import Literal

from tfp_audio_vae import defaults

StrategyName = Literal["auto", "default", "mirrored", "multiworker"]
STRATEGIES: tuple[str, ...] = ("auto", "default", "mirrored", "multiworker")


def cluster_from_tf_config() -> dict | None:
    """The parsed ``TF_CONFIG`` environment variable, or ``None`` when it is unset or empty.

    Raises:
      ValueError: naming ``TF_CONFIG`` when it is not JSON with a ``cluster`` of workers and this
        process's ``task`` (its ``type`` and ``index``).
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        roles = [*cluster.get("chief", []), *cluster.get("worker", [])]
        known = task["type"] in cluster and 0 <= int(task["index"]) < len(cluster[task["type"]])
    except (ValueError, KeyError, TypeError, AttributeError):
        known, roles = False, []
    if not (known and roles):
        raise ValueError(
            'TF_CONFIG: expected JSON such as {"cluster": {"worker": ["host:port", ...]}, '
            f'"task": {{"type": "worker", "index": 0}}}}, got {text[:200]!r}'
        )
    return config


def resolve_strategy(
    name: StrategyName = defaults.STRATEGY,
) -> Literal["default", "mirrored", "multiworker"]:
    """``name`` with ``"auto"`` resolved: ``"multiworker"`` when ``TF_CONFIG`` is set, else
    ``"default"``.

    Raises:
      ValueError: an unknown name, a malformed ``TF_CONFIG``, or ``"multiworker"`` without one.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    cluster = cluster_from_tf_config()
    if name == "auto":
        return "multiworker" if cluster else "default"
    if name == "multiworker" and cluster is None:
        raise ValueError(
            "strategy 'multiworker' needs TF_CONFIG: the cluster's workers and this worker's task"
        )
    return name
