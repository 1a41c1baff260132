"""A run: what was trained, on which data, and the folder that holds it.

`RunSpec` describes a run, frozen and JSON-serialisable: its data (`DataSpec`: FSDD, SC09 or a
folder, and so its splits), its model (`ModelSpec`), its training (`TrainingSpec`) and its seed.
`Run` is a run folder: it trains into it (`Run.train`: the resume rules, the settings check,
``train.json``), and gives back its model, its data's splits and the judge of that data, so the
command line, ``examples/compare_priors.py``, the explorer and the experiments never work out
"which data did this model see" for themselves::

    runs/NAME/model.keras     the model, its spectrogram config and normalisation inside
    runs/NAME/train.json      its `RunSpec`, written by `training.fit.train` before the first epoch
    runs/NAME/history.csv     metrics per epoch; runs/NAME/logs/ for TensorBoard
    runs/NAME/checkpoints/    resumable training state

```python
from tfp_audio_vae.runs import DataSpec, Run, RunSpec

run = Run("runs/my_vae")
model = run.train(RunSpec(data=DataSpec("fsdd")))  # the measured-best defaults; resumable
splits = run.splits()  # the same data, its train / validation / test records and class names
```
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfp_audio_vae import defaults, pretrained
from tfp_audio_vae.progress import Say, step
from tfp_audio_vae.training.run_spec import (
    RECORD,
    DataSpec,
    ResolutionSpec,
    RunSpec,
    Splits,
    changed_settings,
)

if TYPE_CHECKING:
    import tensorflow as tf

    from tfp_audio_vae.data.pipeline import AudioRecord
    from tfp_audio_vae.data.spectrogram import SpectrogramConfig
    from tfp_audio_vae.evaluation.judge import Judge
    from tfp_audio_vae.models.vae import VAE

MODEL = "model.keras"


class Run:
    """A run folder: its `RunSpec` (``train.json``), model, data and judge.

    Args:
      folder: the run folder (created by `train`).
      model_file: the model, when it is not ``folder/model.keras`` (a bare ``.keras`` file).
    """

    def __init__(
        self,
        folder: str | Path,
        model_file: str | Path | None = None,
        *,
        outputs: str | Path | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.model_path = Path(model_file) if model_file else self.folder / MODEL
        self.record_path = self.folder / RECORD
        self.outputs = Path(outputs) if outputs else self.folder
        """Where commands write what they make of the model (samples, metrics, figures): the
        run folder, or ``runs/pretrained-NAME`` for a shipped model (its folder is read-only)."""

    @classmethod
    def at(cls, run_or_model: str | Path) -> Run:
        """The run of a run folder, of a ``.keras`` file (its folder), or of a model shipped with
        the package (``"pretrained:fsdd"``: `tfp_audio_vae.pretrained`)."""
        if pretrained.is_pretrained(run_or_model):
            name = str(run_or_model).removeprefix(pretrained.PREFIX)
            return cls(pretrained.folder(run_or_model), outputs=Path("runs") / f"pretrained-{name}")
        path = Path(run_or_model)
        return cls(path) if path.is_dir() else cls(path.parent, model_file=path)

    def __repr__(self) -> str:
        return f"Run({str(self.folder)!r})"

    # ------------------------------------------------------------------ what it holds

    def spec(self) -> RunSpec | None:
        """The recorded `RunSpec`, or ``None`` when the folder has no ``train.json``.

        Raises:
          ValueError: naming ``train.json``, when it is not JSON.
        """
        record = self._record()
        return None if record is None else RunSpec.from_json(record)

    def data(
        self, fsdd_root: str | Path | None = None, *, say: Callable[[str], Any] = print
    ) -> DataSpec:
        """The data the model was trained on, as the record says. FSDD at ``fsdd_root`` when it
        is given, and FSDD (said through ``say``) when the record does not name the data."""
        if fsdd_root is not None:
            return DataSpec("fsdd", str(fsdd_root))
        spec = self.spec()
        if spec is None or spec.data is None:
            why = f"no {RECORD} beside it" if spec is None else f"its {RECORD} names no data"
            say(f"{self.model_path}: {why}, so its data is taken to be FSDD")
            return DataSpec("fsdd")
        return spec.data

    def splits(self, fsdd_root: str | Path | None = None) -> Splits:
        """The splits of `data`."""
        return self.data(fsdd_root).splits()

    def load_model(self) -> VAE:
        """The trained model.

        Raises:
          FileNotFoundError: when there is none.
        """
        from tfp_audio_vae.models.saving import load_model

        if not self.model_path.is_file():
            raise FileNotFoundError(f"{self.model_path}: no model here (train one first)")
        return load_model(self.model_path)

    # ------------------------------------------------------------------ training into it

    def check_resumable(self, spec: RunSpec, *, force: bool = False) -> None:
        """Refuses to go on with other settings than those a finished epoch was trained with
        (before any epoch finished, a retry may change them).

        Raises:
          ValueError: naming the folder and the changed settings, unless ``force``.
        """
        record = self._record()
        if record is None or force or self.finished_epochs() == 0:
            return
        if changed := changed_settings(record, spec):
            raise ValueError(
                f"{self.folder} was trained with other settings ({', '.join(changed)}): use a "
                "new run folder, or force to continue anyway"
            )

    def train(
        self,
        spec: RunSpec,
        *,
        strategy: tf.distribute.Strategy | None = None,
        force: bool = False,
        data: TrainingData | None = None,
        cache_dir: str | Path | None = None,
        verbose: int | str = "auto",
        say: Say | None = None,
    ) -> VAE:
        """Trains ``spec`` into the folder, or resumes it after its last finished epoch; a run
        that has finished all of ``spec``'s epochs is loaded as it is, not touched.

        Args:
          spec: the run; its data, model and training must be set.
          strategy: the distribution strategy (`distribute.make_strategy`); the default one
            when ``None``.
          force: go on with settings that differ from the recorded ones.
          data: the spec's `training_data`, when the caller made it already (several models
            trained on one data set share it: its normalisation and cached spectrograms).
          cache_dir: where spectrogram shards go when the train set is too large for memory.
          verbose: Keras verbosity.
          say: where reading the data says what it does and how long it took (`progress`).
        Returns:
          the trained model (also saved as ``model.keras``).
        Raises:
          ValueError: changed settings (`check_resumable`), or settings that cannot work.
          AudioFileError: an unreadable file (unless ``spec.data.skip_bad_files``).
        """
        import tensorflow as tf

        from tfp_audio_vae.training.fit import train

        if spec.data is None or spec.model is None:
            raise ValueError("Run.train needs a spec with its data and model set")
        self.check_resumable(spec, force=force)
        if self.finished_epochs() >= spec.training.epochs and self.model_path.is_file():
            return self.load_model()  # a finished run is left as it ended (its last refit, level)
        data = data or training_data(spec, cache_dir=cache_dir, say=say)
        training = spec.training
        with (strategy or tf.distribute.get_strategy()).scope():
            model = spec.model.build(data.config, data.splits.class_names, spec.seed)
        train(
            model,
            data.train,
            self.folder,
            epochs=training.epochs,
            validation_data=data.validation,
            learning_rate=training.learning_rate,
            lr_schedule=training.lr_schedule,
            weight_decay=training.weight_decay,
            fit_prior_every=training.fit_prior_every,
            seed=spec.seed,
            verbose=verbose,
            spec=spec,
            selection=training.selection,
        )
        return model

    def finished_epochs(self) -> int:
        """The epochs the folder's newest checkpoint has finished (0 without one)."""
        import tensorflow as tf

        latest = tf.train.latest_checkpoint(self.folder / "checkpoints")
        if latest is None:
            return 0
        return int(tf.train.load_variable(latest, "epoch/.ATTRIBUTES/VARIABLE_VALUE"))

    # ------------------------------------------------------------------ helpers

    def _record(self) -> dict[str, Any] | None:
        if not self.record_path.is_file():
            return None
        try:
            record = json.loads(self.record_path.read_text())
        except (ValueError, UnicodeDecodeError):
            raise ValueError(f"{self.record_path}: damaged (not JSON)") from None
        if not isinstance(record, dict):
            raise ValueError(f"{self.record_path}: damaged (not a JSON object)")
        return record


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """What a spec's data becomes for training: its `Splits`, the spectrogram config with the
    train split's normalisation, and the batches of the train and validation splits."""

    splits: Splits
    config: SpectrogramConfig
    train: tf.data.Dataset
    validation: tf.data.Dataset | None


def training_data(
    spec: RunSpec, *, cache_dir: str | Path | None = None, say: Say | None = None
) -> TrainingData:
    """Reads ``spec.data``'s splits, fits the normalisation on the train split and makes the
    batches (`pipeline.spectrogram_dataset`, shuffled by ``spec.seed``) as ``spec.training``
    says. With ``skip_bad_files``, unreadable files are listed on stderr and left out.

    Raises:
      AudioFileError: an unreadable file (unless ``spec.data.skip_bad_files``).
    """
    from tfp_audio_vae.data import pipeline

    splits = spec.data.splits()
    training = spec.training
    on_error = "skip" if spec.data.skip_bad_files else "raise"
    base = spec.resolution.config()
    folder = spec.data.dataset == "folder"
    if say is not None and folder and (note := resolution_note(splits.train, spec.resolution)):
        say(note)
    if spec.data.skip_bad_files:
        for error in pipeline.validate_files([*splits.train, *splits.validation], base):
            print(f"skipped {error}", file=sys.stderr)
    what = f"{splits.name}: the normalisation of its {len(splits.train)} training clips"
    with step(say, what):
        config = pipeline.fit_normalisation(splits.train, base, on_error=on_error)
    train_data = train_batches(spec, splits.train, config, cache_dir=cache_dir)
    validation = splits.validation
    batches = {"batch_size": training.batch_size or defaults.BATCH_SIZE, "on_error": on_error}
    val_data = pipeline.spectrogram_dataset(validation, config, **batches) if validation else None
    return TrainingData(splits, config, train_data, val_data)


def train_batches(
    spec: RunSpec,
    records: Sequence[AudioRecord],
    config: SpectrogramConfig,
    *,
    cache_dir: str | Path | None = None,
) -> tf.data.Dataset:
    """The shuffled training batches of ``records`` as ``spec.training`` says, shuffled by
    ``spec.seed`` (`pipeline.spectrogram_dataset`). A new one for each model: a shuffled
    dataset's order follows how often it was read before, so a model trained on one that another
    model read would not see the batches a run of it alone sees."""
    from tfp_audio_vae.data import pipeline

    training = spec.training
    return pipeline.spectrogram_dataset(
        records,
        config,
        batch_size=training.batch_size or defaults.BATCH_SIZE,
        shuffle=True,
        seed=spec.seed,
        cache=training.cache or "auto",
        cache_dir=cache_dir,
        speeds=training.speeds or defaults.SPEEDS,
        on_error="skip" if spec.data.skip_bad_files else "raise",
    )


def resolution_note(records: Sequence[AudioRecord], resolution: ResolutionSpec) -> str | None:
    """One line when the clips of ``records`` are at a higher rate than ``resolution``'s or
    longer than its clips, naming the options that keep them; ``None`` when they fit (or cannot
    be read: the pipeline's own checks report those)."""
    import soundfile as sf

    rates, seconds = [], []
    for record in records:
        try:
            info = sf.info(str(record.path))
        except (OSError, RuntimeError):  # sf.LibsndfileError is a RuntimeError
            continue
        rates.append(info.samplerate)
        seconds.append(info.duration)
    notes, keep = [], []
    if rates and max(rates) > resolution.sample_rate:
        notes.append(f"at up to {max(rates)} Hz, resampled to {resolution.sample_rate} Hz")
        keep.append(f"--sample-rate {max(rates)}")
    if seconds and max(seconds) > resolution.seconds:
        notes.append(f"up to {max(seconds):.2f} s long, cut to {resolution.seconds:g} s")
        keep.append(f"--seconds {math.ceil(max(seconds) * 10) / 10:g}")
    if not notes:
        return None
    return f"the training clips are {' and '.join(notes)}: {' '.join(keep)} keeps them"


def judge_for(
    data: DataSpec,
    splits: Splits,
    *,
    train_if_missing: bool = True,
    epochs: int | None = None,
    verbose: int | str = 0,
    say: Say | None = None,
) -> Judge:
    """The judge of ``data``: a classifier of its classes trained on its whole train split and
    cached (FSDD's under its own name, any other's under the fingerprint of its files). For FSDD
    with none cached, the judge shipped with the pretrained model when the train split is the
    one it was trained on (`shipped_judge`), so no first run spends minutes training one.

    ``epochs``, ``verbose`` and ``say`` are those of its training, when none is cached
    (`judge.get_judge`).

    Raises:
      ValueError: the data has no classes to judge.
      FileNotFoundError: none is cached and ``train_if_missing`` is False.
    """
    from tfp_audio_vae.evaluation.judge import get_judge, judge_path

    if splits.class_names is None:
        raise ValueError(f"{splits.name}: the data has no classes for a judge to learn")
    if data.dataset == "fsdd":
        if not judge_path().is_file() and (shipped := shipped_judge(splits)) is not None:
            return shipped
        return get_judge(
            data.root, train_if_missing=train_if_missing, epochs=epochs, verbose=verbose, say=say
        )
    return get_judge(
        records=splits.all_train,
        num_classes=len(splits.class_names),
        train_if_missing=train_if_missing,
        epochs=epochs,
        verbose=verbose,
        say=say,
    )


def shipped_judge(splits: Splits) -> Judge | None:
    """The judge shipped with a pretrained model (`tfp_audio_vae.pretrained`) whose training
    data is ``splits``' train split, file for file (`judge.content_fingerprint`); else ``None``."""
    from tfp_audio_vae.evaluation.judge import content_fingerprint, load_judge

    shipped = {}
    for name in pretrained.NAMES:
        path = pretrained.folder(name)
        shipped[pretrained.manifest(path).get("judge_data")] = path / "judge.keras"
    if not any(shipped):
        return None
    path = shipped.get(content_fingerprint(splits.all_train))
    return None if path is None else load_judge(path)
