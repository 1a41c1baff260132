"""What a run is: a frozen, JSON-serialisable `RunSpec` of its data (`DataSpec`: FSDD, SC09 or a
folder, and so its splits), the resolution it hears them at (`ResolutionSpec`), its model
(`ModelSpec`), its training (`TrainingSpec`) and its seed.

`training.fit.train` writes it as the run folder's ``train.json`` before the first epoch, and
`changed_settings` compares a resumed run with it; `tfp_audio_vae.runs.Run` is the folder that
holds one.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tfp_audio_vae import defaults

if TYPE_CHECKING:
    from tfp_audio_vae.data.pipeline import AudioRecord
    from tfp_audio_vae.data.spectrogram import SpectrogramConfig
    from tfp_audio_vae.models.priors import Prior
    from tfp_audio_vae.models.vae import VAE

RECORD = "train.json"
FORMAT = 2
"""``train.json``'s layout: 2 is `RunSpec.to_json`; 1 (no ``"format"``) the command line's flat
options of earlier releases, still read (`RunSpec.from_json`)."""

Dataset = Literal["fsdd", "sc09", "folder"]
Selection = Literal["best", "last"]
"""The weights a run ends on: its last epoch's, or those of its best held-out bound."""


@dataclasses.dataclass(frozen=True)
class Splits:
    """A data set's records: ``train`` (at most `DataSpec.limit`), ``validation`` (evaluated
    after each epoch, and what the likelihood's scale is calibrated on), ``test`` (all of it) and
    ``class_names`` (``None`` when unlabelled)."""

    name: str
    train: list[AudioRecord]
    validation: list[AudioRecord]
    test: list[AudioRecord]
    class_names: tuple[str, ...] | None
    all_train: list[AudioRecord]
    """The whole train split, whatever the limit (the judge of a data set trains on it)."""


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Where a run's audio comes from.

    Attributes:
      dataset: ``"fsdd"`` (official split), ``"sc09"`` (official train / validation / test
        lists) or ``"folder"`` (`folders.read_folder`: classes from its sub-folders, its held-out
        clips test).
      root: the data set's folder; ``None`` for FSDD and SC09 looks where their ``locate`` does
        (``$TFP_AUDIO_VAE_FSDD`` / ``$TFP_AUDIO_VAE_SC09``, the cache, else a download).
      limit: at most this many training files, evenly spaced (and a ninth as many validation
        files): quick trials.
      skip_bad_files: skip (and report) unreadable files instead of refusing to train.
      validation_fraction: the share of FSDD's or a folder's training clips carved out to
        validate (`splitting.carve_validation`: stratified by class and speaker, drawn with
        ``validation_seed``); SC09 validates on its official list. 0: no validation (no
        held-out bound, no calibration); ``None``: how runs recorded before 0.2 validated, on
        the test split (read from their ``train.json`` only).
      validation_seed: the draw of the validation clips.
    """

    dataset: Dataset = "fsdd"
    root: str | None = None
    limit: int | None = None
    skip_bad_files: bool = False
    validation_fraction: float | None = defaults.VALIDATION_FRACTION
    validation_seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in ("fsdd", "sc09", "folder"):
            raise ValueError(f"dataset must be fsdd, sc09 or folder, got {self.dataset!r}")
        if self.dataset == "folder" and not self.root:
            raise ValueError("a folder data set needs its root")

    def splits(self) -> Splits:
        """The records of each split (reads the folder or the official lists; may download)."""
        from tfp_audio_vae.data import folders, fsdd, sc09
        from tfp_audio_vae.data.pipeline import evenly_spaced
        from tfp_audio_vae.data.splitting import carve_validation

        if self.dataset == "sc09":
            root = sc09.locate(self.root)
            name, names = "SC09", sc09.CLASS_NAMES
            all_train, validation, test = (
                sc09.records(root, s) for s in ("train", "validation", "test")
            )
            train = all_train
        else:
            if self.dataset == "folder":
                data = folders.read_folder(self.root)
                name, names = str(self.root), data.class_names or None
                all_train, test = data.train, data.test
            else:
                root = fsdd.locate(self.root)
                name, names = "FSDD", tuple(str(d) for d in range(fsdd.NUM_DIGITS))
                all_train, test = fsdd.records(root, "train"), fsdd.records(root, "test")
            if self.validation_fraction is None:  # how runs before 0.2 validated
                train, validation = all_train, test
            else:
                train, validation = carve_validation(
                    all_train, self.validation_fraction, self.validation_seed
                )
        limit = self.limit
        return Splits(
            name=name,
            train=evenly_spaced(train, limit),
            validation=evenly_spaced(validation, limit and max(1, limit // 9)),
            test=test,
            class_names=names,
            all_train=all_train,
        )


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """The model `build_vae` makes (see it for each setting's meaning): ``prior`` is a variant
    name (`variants.VARIANTS`) or the class name of a user's `Prior` subclass, defined once
    ``imports`` (modules, or ``.py`` files) are imported. ``components`` is the command line's
    ``--components``: the mixture's components for ``"mog"`` (`build_vae`'s ``num_components``),
    the classes for ``"conditional"`` (its ``num_classes``); ``None`` takes the default."""

    prior: str = defaults.PRIOR
    latent_dim: int = defaults.LATENT_DIM
    components: int | None = None
    components_per_class: int = defaults.COMPONENTS_PER_CLASS
    network: str = defaults.NETWORK
    decoder_scale: str = defaults.DECODER_SCALE
    local_dim: int = defaults.LOCAL_DIM
    local_prior: str = defaults.LOCAL_PRIOR
    local_components: int = defaults.LOCAL_COMPONENTS
    beta: float = 1.0
    warmup_steps: int = 0
    free_nats: float = 0.0
    beta_nll: float = 0.0
    imports: tuple[str, ...] = ()

    def build(self, config: Any, class_names: Sequence[str] | None, seed: int) -> VAE:
        """The untrained `VAE` for spectrograms of ``config`` (in the current strategy's scope)."""
        from tfp_audio_vae.models.variants import build_vae

        return build_vae(
            config,
            self.prior_instance(seed),
            latent_dim=self.latent_dim,
            num_components=self.components if self.prior == "mog" else None,
            num_classes=self.components if self.prior == "conditional" else None,
            components_per_class=self.components_per_class,
            class_names=class_names,
            network=self.network,
            decoder_scale=self.decoder_scale,
            local_dim=self.local_dim,
            local_prior=self.local_prior,
            local_components=self.local_components,
            seed=seed,
            beta=self.beta,
            warmup_steps=self.warmup_steps,
            free_nats=self.free_nats,
            beta_nll=self.beta_nll,
        )

    def prior_instance(self, seed: int) -> str | Prior:
        """``prior`` as `build_vae` takes it: a variant's name, or the user's `Prior` subclass
        of that class name built with ``latent_dim`` (and ``seed`` where it takes one)."""
        from tfp_audio_vae.models.priors import Prior
        from tfp_audio_vae.models.variants import VARIANTS

        if self.prior in VARIANTS:
            return self.prior
        found, todo = {}, [Prior]
        while todo:
            for cls in todo.pop().__subclasses__():
                found[cls.__name__] = cls
                todo.append(cls)
        cls = found.get(self.prior)
        if cls is None:
            raise ValueError(
                f"prior {self.prior}: not one of {', '.join(VARIANTS)}, nor a Prior subclass "
                "defined by an imported module"
            )
        takes_seed = "seed" in inspect.signature(cls).parameters
        return cls(self.latent_dim, **({"seed": seed} if takes_seed else {}))


_RESOLUTION = defaults.RESOLUTIONS[defaults.RESOLUTION]


@dataclasses.dataclass(frozen=True)
class ResolutionSpec:
    """What a run hears: its audio's sample rate (Hz), clip length (s) and STFT (frame and hop,
    in samples). Files at other rates are resampled to ``sample_rate``, longer clips cut and
    shorter ones padded to ``seconds``; the networks are sized by the spectrogram's shape
    (``n_fft / 2`` bins x ``ceil(samples / hop_length)`` frames). `preset` names the measured
    ones (`defaults.RESOLUTIONS`); the default is ``"8k"``, which records written before
    resolutions were a setting also mean.

    Raises:
      ValueError: a sample rate below `audio_files.MIN_SAMPLE_RATE`, a clip shorter than one
        STFT frame, or an STFT that `stft.check_stft_sizes` refuses.
    """

    sample_rate: int = int(_RESOLUTION["sample_rate"])
    seconds: float = float(_RESOLUTION["seconds"])
    n_fft: int = int(_RESOLUTION["n_fft"])
    hop_length: int = int(_RESOLUTION["hop_length"])

    def __post_init__(self) -> None:
        from tfp_audio_vae.data.audio_files import MIN_SAMPLE_RATE
        from tfp_audio_vae.data.stft import check_stft_sizes

        if self.sample_rate < MIN_SAMPLE_RATE:
            raise ValueError(
                f"sample rate {self.sample_rate} Hz is below the minimum of {MIN_SAMPLE_RATE} Hz"
            )
        check_stft_sizes(self.n_fft, self.hop_length)
        if not self.num_samples >= self.n_fft:
            raise ValueError(
                f"a clip of {self.seconds} s at {self.sample_rate} Hz ({self.num_samples} "
                f"samples) is shorter than one STFT frame of {self.n_fft} samples"
            )

    @classmethod
    def preset(cls, name: str = defaults.RESOLUTION, **changes: float | None) -> ResolutionSpec:
        """The resolution ``name`` (`defaults.RESOLUTIONS`), with the ``changes`` that are not
        ``None``."""
        if name not in defaults.RESOLUTIONS:
            raise ValueError(
                f"resolution must be one of {', '.join(defaults.RESOLUTIONS)}, got {name!r}"
            )
        values = {**defaults.RESOLUTIONS[name]}
        values.update({k: v for k, v in changes.items() if v is not None})
        return cls(
            sample_rate=int(values["sample_rate"]),
            seconds=float(values["seconds"]),
            n_fft=int(values["n_fft"]),
            hop_length=int(values["hop_length"]),
        )

    @classmethod
    def from_args(cls, args: Any, dataset: str | None = None) -> ResolutionSpec:
        """The resolution of the options `defaults.add_resolution_arguments` adds; without
        ``--resolution``, ``dataset``'s own (`named_for`)."""
        return cls.preset(
            args.resolution or cls.named_for(dataset),
            sample_rate=args.sample_rate,
            seconds=args.seconds,
            n_fft=args.n_fft,
            hop_length=args.hop_length,
        )

    @staticmethod
    def named_for(dataset: str | None) -> str:
        """The name of the resolution a run on ``dataset`` (``"fsdd"``, ``"sc09"``, ``"folder"``)
        hears by default: `defaults.DATASET_RESOLUTIONS`, else `defaults.RESOLUTION`."""
        return defaults.DATASET_RESOLUTIONS.get(dataset or "", defaults.RESOLUTION)

    @classmethod
    def of(cls, config: SpectrogramConfig) -> ResolutionSpec:
        """The resolution of a `SpectrogramConfig` (a model's)."""
        return cls(
            sample_rate=config.sample_rate,
            seconds=config.num_samples / config.sample_rate,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
        )

    @property
    def num_samples(self) -> int:
        """Samples of a clip: ``seconds * sample_rate``, rounded."""
        return round(self.seconds * self.sample_rate)

    def config(self) -> SpectrogramConfig:
        """The `SpectrogramConfig` of this resolution, before its normalisation is fitted."""
        from tfp_audio_vae.data.spectrogram import SpectrogramConfig

        return SpectrogramConfig(
            sample_rate=self.sample_rate,
            num_samples=self.num_samples,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
        )


@dataclasses.dataclass(frozen=True)
class TrainingSpec:
    """How `training.fit.train` fits the model, and how its batches are made
    (`pipeline.spectrogram_dataset`). ``fit_prior_every`` ``None``: the default for the prior
    (`fit.refit_period`). ``batch_size``, ``speeds`` and ``cache`` are ``None`` in the record of
    a `train` call given ready-made batches (the caller chose them)."""

    epochs: int = defaults.EPOCHS
    batch_size: int | None = defaults.BATCH_SIZE
    learning_rate: float = defaults.LEARNING_RATE
    lr_schedule: str = defaults.LR_SCHEDULE
    weight_decay: float = defaults.WEIGHT_DECAY
    speeds: tuple[float, ...] | None = defaults.SPEEDS
    fit_prior_every: int | None = None
    cache: str | None = "auto"
    selection: str = defaults.CHECKPOINT_SELECTION


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Everything that makes a run: data, the resolution it is heard at, model, training and
    seed. ``data`` and ``model`` are ``None`` in the record of a `train` call given a ready-made
    model and batches (whose resolution is then the model's). ``resolution`` ``None``: the data
    set's own (`ResolutionSpec.named_for`: SC09 at 16 kHz, the rest at 8 kHz)."""

    data: DataSpec | None = dataclasses.field(default_factory=DataSpec)
    resolution: ResolutionSpec = None  # type: ignore[assignment]  # set in __post_init__
    model: ModelSpec | None = dataclasses.field(default_factory=ModelSpec)
    training: TrainingSpec = dataclasses.field(default_factory=TrainingSpec)
    seed: int = 0
    preset: str = "default"

    def __post_init__(self) -> None:
        if self.resolution is None:
            named = ResolutionSpec.named_for(self.data.dataset if self.data else None)
            object.__setattr__(self, "resolution", ResolutionSpec.preset(named))

    @classmethod
    def from_preset(cls, preset: str = "default", **sections: Any) -> RunSpec:
        """A spec with ``preset``'s settings (`defaults.PRESETS`) where ``sections`` leave them."""
        chosen = defaults.PRESETS[preset]
        model = sections.pop("model", None) or ModelSpec(latent_dim=chosen["latent_dim"])
        training = sections.pop("training", None) or TrainingSpec(epochs=chosen["epochs"])
        return cls(model=model, training=training, preset=preset, **sections)

    def to_json(self) -> dict[str, Any]:
        """The spec as plain JSON types (tuples as lists), with ``"format"``."""
        return json.loads(json.dumps({"format": FORMAT, **dataclasses.asdict(self)}))

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RunSpec:
        """The spec of a ``train.json``: `to_json`'s layout, or the flat options of format 1.
        Settings the record lacks (newer than it) take their defaults."""
        record = _upgraded(record)

        def section(kind: type, values: dict[str, Any] | None) -> Any:
            if values is None:
                return None
            known = {f.name for f in dataclasses.fields(kind)}
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
            return kind(**{k: v for k, v in values.items() if k in known})

        return cls(
            data=section(DataSpec, record.get("data")),
            resolution=section(ResolutionSpec, record.get("resolution")) or ResolutionSpec(),
            model=section(ModelSpec, record.get("model")),
            training=section(TrainingSpec, record.get("training")) or TrainingSpec(),
            seed=int(record.get("seed", 0)),
            preset=record.get("preset", "default"),
        )


# Format 1's flat options, by the section they belong to now.
_FLAT = {
    "model": [f.name for f in dataclasses.fields(ModelSpec)],
    "training": [f.name for f in dataclasses.fields(TrainingSpec)],
}


def _upgraded(record: dict[str, Any]) -> dict[str, Any]:
    """A ``train.json`` in `RunSpec.to_json`'s layout, with the settings whose default changed
    since it was written set as they were then: a run recorded before validation was carved
    from the training clips validated on the test split (``validation_fraction`` ``None``) and ended
    on its last epoch (``selection`` ``"last"``)."""
    if "format" not in record:
        record = _from_flat(record)
    if record.get("data") is not None:
        record = {**record, "data": {"validation_fraction": None, **record["data"]}}
    if record.get("training") is not None:  # it ended on its last epoch
        record = {**record, "training": {"selection": "last", **record["training"]}}
    return record


def _from_flat(flat: dict[str, Any]) -> dict[str, Any]:
    """Format 1 (the command line's options, flat) in `RunSpec.to_json`'s layout."""
    if flat.get("data"):
        data = {"dataset": "folder", "root": flat["data"]}
    elif flat.get("dataset") == "sc09":
        data = {"dataset": "sc09", "root": flat.get("sc09")}
    else:
        data = {"dataset": "fsdd", "root": flat.get("fsdd")}
    data.update({k: flat[k] for k in ("limit", "skip_bad_files") if k in flat})
    record = {name: {k: flat[k] for k in keys if k in flat} for name, keys in _FLAT.items()}
    return {
        **record,
        "data": data,
        "seed": flat.get("seed", 0),
        "preset": flat.get("preset", "default"),
    }


# Settings that may change between a run and its resumption: the budget (more epochs go on
# from the last one) and where the data is (the same data moved: compared as resolved paths).
_RESUMABLE = {"training.epochs"}
_PATHS = {"data.root"}


def _leaves(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    leaves = {}
    for key, value in record.items():
        if isinstance(value, dict):
            leaves.update(_leaves(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def changed_settings(before: dict[str, Any], spec: RunSpec) -> list[str]:
    """The settings of ``spec`` that differ from the record ``before`` (a ``train.json``), as
    ``section.name``; a setting the record lacks (newer than the run) counts as unchanged."""
    old, new = _leaves(_upgraded(before)), _leaves(spec.to_json())
    changed = []
    for key in sorted(set(old) & set(new) - _RESUMABLE - {"format"}):
        if key in _PATHS and old[key] and new[key]:
            if Path(old[key]).resolve() != Path(new[key]).resolve():
                changed.append(key)
        elif old[key] != new[key]:
            changed.append(key)
    return changed
