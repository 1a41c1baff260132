"""What every experiment shares: its options, a run loaded once, settings as `--set`, a record, a table.

Every experiment runs from the repository root as ``python -m experiments.NAME``, and:

- takes the common options of `parser`: ``--fsdd``, ``--limit`` (test clips, evenly spaced),
  ``--seed``, ``--record`` (the JSON-lines file it appends to) and, where it trains, ``--set
  key=value`` (repeatable);
- loads what it measures with `load`: a run folder through `tfp_audio_vae.runs.Run` (its model,
  the data it was trained on and so its test split, waveforms and labels) and, on first use, the
  judge of that data (`runs.judge_for`, once per process however many runs it loads);
- turns ``--set`` into a `RunSpec` with `run_spec`: the current defaults (``RunSpec()``) with each
  ``section.field`` replaced (``model.latent_dim=8``, ``training.epochs=3``, ``data.limit=40``,
  ``seed=1``; values read as JSON where they parse, else as text);
- appends one JSON line per result with `append_record` (the command, the settings, the figures,
  and `benchmarks.environment.environment`: the date, Python, the platform, the machine record of
  `tfp_audio_vae.machine.machine_record` and the package versions);
- prints Markdown with `table`, the one formatter of every experiment.

Records are appended, not rewritten through `tfp_audio_vae.files.atomic_output`: a record only
grows, one line in one ``write``, so the lines already there are never touched, and two
experiments appending to one file at once both keep their line (a rewrite by renaming a copy
would drop whichever finished first).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no start-up log lines

import numpy as np  # noqa: E402

from benchmarks.environment import append_jsonl, environment  # noqa: E402
from tfp_audio_vae.data import pipeline  # noqa: E402
from tfp_audio_vae.evaluation.tables import (  # noqa: E402, F401
    BOUND_COLUMNS,
    EVALUATE_COLUMNS,
    Column,
    lookup,
    table,
)
from tfp_audio_vae.runs import Run, judge_for  # noqa: E402
from tfp_audio_vae.training.run_spec import DataSpec, RunSpec, Splits  # noqa: E402

if TYPE_CHECKING:
    import tensorflow as tf

    from tfp_audio_vae.evaluation.judge import Judge
    from tfp_audio_vae.models.latents import ClassMeans
    from tfp_audio_vae.models.vae import VAE

REPO_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- options


def parser(
    doc: str, record: str, *, runs: bool = False, settings: bool = False
) -> argparse.ArgumentParser:
    """An experiment's argument parser with the common options.

    Args:
      doc: the experiment's docstring: its first paragraph describes the command, the rest is
        shown after the options.
      record: the default ``--record``, a file name under ``docs/data/``.
      runs: take run folders (or ``.keras`` files) as positional ``runs``.
      settings: take ``--set key=value`` (experiments that train).
    """
    summary, _, details = doc.partition("\n\n")
    parsed = argparse.ArgumentParser(
        prog=f"python -m {_module()}",
        description=summary,
        epilog=details,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if runs:
        parsed.add_argument("runs", nargs="+", help="run folders (or .keras files)")
    parsed.add_argument(
        "--fsdd", help="FSDD folder holding recordings/ (default: $TFP_AUDIO_VAE_FSDD, the cache)"
    )
    parsed.add_argument(
        "--limit", type=int, help="at most N test clips, evenly spaced (default: all)"
    )
    parsed.add_argument("--seed", type=int, default=0, help="of every draw (default: 0)")
    parsed.add_argument(
        "--record",
        default=f"docs/data/{record}",
        help="the JSON-lines file each result is appended to (default: %(default)s)",
    )
    if settings:
        parsed.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a setting of the run, e.g. model.latent_dim=8, training.epochs=3, seed=1 "
            f"(repeatable; one of: {', '.join(setting_names())})",
        )
    return parsed


def _module() -> str:
    """``experiments.NAME`` of the running experiment (what ``python -m`` was given)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return spec.name if spec else Path(sys.argv[0]).stem


def command() -> str:
    """The command line that ran this experiment, as a record keeps it."""
    return shlex.join(["python", "-m", _module(), *sys.argv[1:]])


# --------------------------------------------------------------------------- settings


def setting_names(spec: RunSpec | None = None) -> list[str]:
    """The ``--set`` keys: every field of `RunSpec`, ``section.field`` inside a section."""
    names = []
    for field in dataclasses.fields(spec or RunSpec()):
        value = getattr(spec or RunSpec(), field.name)
        if dataclasses.is_dataclass(value):
            names += [f"{field.name}.{f.name}" for f in dataclasses.fields(value)]
        else:
            names.append(field.name)
    return names


def run_spec(pairs: Sequence[str], base: RunSpec | None = None) -> RunSpec:
    """``base`` (the current defaults, ``RunSpec()``) with each ``key=value`` of ``pairs`` set.

    Values are read as JSON where they parse (``8``, ``4e-3``, ``null``, ``[0.9, 1.0]``), else
    kept as text (``conv2d``); JSON lists become tuples.

    Raises:
      SystemExit: one line naming the pair, for a key that is no setting or a value the
        setting refuses.
    """
    spec = base or RunSpec()
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in setting_names(spec):
            raise SystemExit(
                f"--set {pair}: unknown setting (KEY=VALUE, KEY one of {', '.join(setting_names())})"
            )
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        value = tuple(value) if isinstance(value, list) else value
        section, _, name = key.rpartition(".")
        try:
            if section:
                inner = dataclasses.replace(getattr(spec, section), **{name: value})
                spec = dataclasses.replace(spec, **{section: inner})
            else:
                spec = dataclasses.replace(spec, **{name: value})
        except (TypeError, ValueError) as error:
            raise SystemExit(f"--set {pair}: {error}") from None
    return spec


# --------------------------------------------------------------------------- loading


_JUDGES: dict[DataSpec, Judge] = {}


@dataclasses.dataclass
class Loaded:
    """What an experiment measures: a run's model (``None`` for the data alone), the data it was
    trained on, its splits and its test clips (``--limit`` of them, evenly spaced)."""

    data: DataSpec
    splits: Splits
    waves: np.ndarray  # [n, samples]
    labels: np.ndarray  # [n]
    run: Run | None = None
    model: VAE | None = None

    @property
    def name(self) -> str:
        """The run folder's (or model file's) path, else the data set's name."""
        return str(self.run.model_path) if self.run else self.splits.name

    @property
    def judge(self) -> Judge:
        """The judge of the data, loaded (or trained and cached) once per process."""
        if self.data not in _JUDGES:
            _JUDGES[self.data] = judge_for(self.data, self.splits)
        return _JUDGES[self.data]

    def test_batches(self) -> tf.data.Dataset:
        """The test clips as the model's spectrogram batches (`metrics.spectrogram_batches`)."""
        from tfp_audio_vae.evaluation.metrics import spectrogram_batches

        return spectrogram_batches(self.waves, self.labels, self.model.audio_config())

    def train_waves(self, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
        """At most ``limit`` clips of the train split, evenly spaced: waveforms and labels."""
        config = self.model.audio_config() if self.model else _raw_config()
        return pipeline.load_waveforms(pipeline.evenly_spaced(self.splits.train, limit), config)

    def train_batches(self, batch_size: int = 64) -> tf.data.Dataset:
        """The train split as the model's spectrogram batches (unshuffled)."""
        return pipeline.spectrogram_dataset(
            self.splits.train, self.model.audio_config(), batch_size=batch_size
        )

    def validation_batches(self, batch_size: int = 64) -> tf.data.Dataset:
        """The validation split as the model's spectrogram batches (unshuffled)."""
        return pipeline.spectrogram_dataset(
            self.splits.validation, self.model.audio_config(), batch_size=batch_size
        )

    def class_means(self) -> ClassMeans:
        """Each class's mean latent over the train split (`latents.class_mean_latents`), for
        class samples from a prior that is not conditional."""
        from tfp_audio_vae.models.latents import class_mean_latents

        return class_mean_latents(
            self.model, self.train_batches(), num_classes=len(self.splits.class_names)
        )


def _raw_config():
    from tfp_audio_vae.data.spectrogram import SpectrogramConfig

    return SpectrogramConfig()


def load(args: argparse.Namespace, run: str | Path | None = None) -> Loaded:
    """The run folder (or ``.keras`` file) ``run``: its model, and the test split of its data
    (FSDD at ``args.fsdd`` when given); with ``run`` None, FSDD's test split alone."""
    if run is None:
        found, model, data = None, None, DataSpec("fsdd", args.fsdd)
        config = _raw_config()
    else:
        found = Run.at(run)
        model, data = found.load_model(), found.data(args.fsdd)
        config = model.audio_config()
    splits = data.splits()
    waves, labels = pipeline.load_waveforms(
        pipeline.evenly_spaced(splits.test, args.limit), config
    )  # [n, samples], [n]
    return Loaded(data, splits, waves, labels, found, model)


# --------------------------------------------------------------------------- records, tables


def append_record(
    path: str | Path, figures: Mapping[str, Any], settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Appends one JSON line to ``path``: the command, ``settings``, ``figures`` and the
    environment (date, machine record, package versions). Returns the line."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    line = {
        "command": command(),
        "settings": dict(settings or {}),
        **figures,
        "environment": environment(tf, tfp, keras, np),
    }
    append_jsonl(path, line)
    return line


def each_run(
    args: argparse.Namespace,
    measure: Callable[[Loaded], Iterable[dict[str, Any]]],
    columns: Sequence[Column],
    settings: Mapping[str, Any],
) -> int:
    """The loop of an experiment on ``args.runs``: each run `load`ed, ``measure``d (rows of
    figures), each row appended to ``args.record`` with ``settings``; then the table of them all.
    Returns 0, the exit status."""
    rows = []
    for run in args.runs:
        for row in measure(load(args, run)):
            append_record(args.record, row, settings)
            rows.append(row)
    print(table(rows, columns))
    return 0


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a JSON-lines record."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
