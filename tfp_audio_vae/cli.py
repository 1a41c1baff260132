"""The `tfp-audio-vae` command: one sub-command per job, each with its own ``--help``.

Argument parsing and short commands over the library: a run folder (``--run-dir``) is a
`tfp_audio_vae.runs.Run`, which trains into it, records its `RunSpec` and gives back its model,
data and judge; it holds one trained model and everything made from it::

    runs/NAME/model.keras     the model, its spectrogram config and normalisation inside
    runs/NAME/train.json      the run's RunSpec (so the same command resumes, and every command
                              knows the model's data)
    runs/NAME/history.csv     metrics per epoch; runs/NAME/logs/ for TensorBoard
    runs/NAME/checkpoints/    resumable training state
    runs/NAME/samples/ ...    WAVs written by generate / reconstruct / interpolate
    runs/NAME/metrics.json    written by evaluate; runs/NAME/figures/ by plot

Bad arguments and bad files end with a one-line error and exit status 2, never a traceback, and
no TensorFlow log lines come before it (unless ``TF_CPP_MIN_LOG_LEVEL`` is set to 0 or 1).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

# Set before TensorFlow is imported (`quiet.QUIET_LEVEL`); a user who asks for info (0) or
# warnings (1) gets them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tfp_audio_vae import defaults  # noqa: E402  (no TensorFlow: keeps --help fast)
from tfp_audio_vae.data.speed import parse_speeds  # noqa: E402  (no TensorFlow either)
from tfp_audio_vae.progress import printer, step  # noqa: E402  (no TensorFlow either)
from tfp_audio_vae.quiet import quiet_tensorflow  # noqa: E402  (imports it, quietly, when called)
from tfp_audio_vae.training.cluster import STRATEGIES  # noqa: E402  (no TensorFlow either)

PROG = "tfp-audio-vae"
MAX_MESSAGE = 400  # characters of an error message shown; longer ones are cut
GENERATE_BATCH = 64  # clips generate decodes and writes at a time (bounded memory for any -n)
MAX_SEED = 2**31 - 1


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# --------------------------------------------------------------------------- helpers


def _model_ref(run_or_model: str) -> str:
    """``run_or_model`` as the library takes it, checked: a run folder or a ``.keras`` file that
    holds a model, or a model shipped with the package (``pretrained:fsdd``, or plain ``fsdd``
    where no such path exists)."""
    from tfp_audio_vae import pretrained

    path = Path(run_or_model)
    name = run_or_model.removeprefix(pretrained.PREFIX)
    if pretrained.is_pretrained(run_or_model) or (name in pretrained.NAMES and not path.exists()):
        pretrained.folder(name)  # an unknown name, or a changed file: one line
        return pretrained.PREFIX + name
    model = path / "model.keras" if path.is_dir() else path
    if not model.is_file():
        raise CommandError(
            f"{model}: no model here (train one with '{PROG} train', or use a pretrained one: "
            f"{', '.join(pretrained.NAMES)})"
        )
    return run_or_model


def _import_user_code(sources: Sequence[str]) -> None:
    """Imports each ``--import``: a module on the path (the current folder first) or a ``.py`` file,
    so the classes a model names (a user's `Prior`, encoder, decoder) are defined before loading.
    A script imported this way must keep its own work under ``if __name__ == "__main__":``."""
    import importlib
    import importlib.util

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for source in sources:
        path = Path(source)
        try:
            if source.endswith(".py"):
                if not path.is_file():
                    raise CommandError(f"--import {source}: no such file")
                spec = importlib.util.spec_from_file_location(path.stem, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[path.stem] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(source)
        except CommandError:
            raise
        except Exception as error:  # the user's code may raise anything: one line, not a trace
            raise CommandError(f"--import {source}: {type(error).__name__}: {error}") from None


def _load(run_or_model: str):
    from tfp_audio_vae.models.saving import load_model

    return load_model(_model_ref(run_or_model))


def _out_dir(args: argparse.Namespace, default: str) -> Path:
    """``--out``, else ``default`` in the run's outputs folder (`Run.outputs`)."""
    return Path(args.out) if args.out else _run(args).outputs / default


def _write(waves, folder: Path, names: list[str], model) -> None:
    from tfp_audio_vae.synthesis.waveforms import write_wavs

    paths = write_wavs(waves, folder, names, model.spectrogram_config.sample_rate)
    print(f"wrote {len(set(paths))} WAV files to {folder}")


def _digits(value: str) -> list[int]:
    try:
        digits = [int(d) for d in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a digit list: {value!r} (e.g. 7 or 0,3,7)") from None
    if any(not 0 <= d <= 9 for d in digits):
        raise argparse.ArgumentTypeError(f"digits must be 0-9, got {value!r}")
    return digits


def _class_list(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"not a class list: {value!r} (e.g. dog or cat,dog)")
    return names


def _number(
    kind: type, low: float, high: float, *, low_open: bool = False
) -> Callable[[str], int | float]:
    """An argparse type: a finite ``kind`` (int or float) in [low, high] (or (low, high])."""

    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except (ValueError, OverflowError):
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"not {what}: {value!r}") from None
        if not math.isfinite(number):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {value!r}")
        too_low = number <= low if low_open else number < low
        if too_low or number > high:
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
            raise argparse.ArgumentTypeError(f"must lie in {interval}, got {value!r}")
        return number

    parse.__name__ = kind.__name__
    return parse


_positive_int = _number(int, 1, 10**9)
_count = _number(int, 0, 10**9)  # 0 allowed
_seed = _number(int, 0, MAX_SEED)


# --------------------------------------------------------------------------- commands


def cmd_download(args: argparse.Namespace) -> None:
    from tfp_audio_vae.data import fsdd, sc09

    if args.dataset == "sc09":  # checked as a whole archive (size and SHA-256) as it downloads
        root = sc09.download(args.dest) if args.dest else sc09.locate(args.sc09, download=True)
        print(f"SC09 (Speech Commands v0.02) ready at {root}")
        return
    # --dest forces a download there; otherwise --fsdd, $TFP_AUDIO_VAE_FSDD, the cache, or download
    root = fsdd.download(args.dest) if args.dest else fsdd.locate(args.fsdd, download=True)
    if args.verify:
        fsdd.verify(root)
    print(f"FSDD {fsdd.FSDD_VERSION} ready at {root}")


def _run(args: argparse.Namespace):
    """The `runs.Run` of ``args.model`` (`_model_ref`), which must hold a model."""
    from tfp_audio_vae.runs import Run

    return Run.at(_model_ref(args.model))


def _data(args: argparse.Namespace):
    """The `DataSpec` of the data ``args.model`` was trained on (`Run.data`: its train.json;
    FSDD at ``--fsdd`` when given)."""
    return _run(args).data(args.fsdd)


def _spec(args: argparse.Namespace):
    """The `RunSpec` that ``train``'s options describe."""
    from tfp_audio_vae.training.run_spec import (
        DataSpec,
        ModelSpec,
        ResolutionSpec,
        RunSpec,
        TrainingSpec,
    )

    held_out = {"validation_fraction": args.validation_fraction}
    if args.data:
        data = DataSpec("folder", args.data, args.limit, args.skip_bad_files, **held_out)
    else:
        root = args.sc09 if args.dataset == "sc09" else args.fsdd
        data = DataSpec(args.dataset, root, args.limit, args.skip_bad_files, **held_out)
    model = ModelSpec(
        prior=args.prior,
        latent_dim=args.latent_dim,
        components=args.components,
        components_per_class=args.components_per_class,
        network=args.network,
        decoder_scale=args.decoder_scale,
        local_dim=args.local_dim,
        local_prior=args.local_prior,
        local_components=args.local_components,
        beta=args.beta,
        warmup_steps=args.warmup_steps,
        free_nats=args.free_nats,
        imports=tuple(args.imports),
    )
    training = TrainingSpec(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        weight_decay=args.weight_decay,
        speeds=tuple(args.speeds),
        fit_prior_every=args.fit_prior_every,
        cache=args.cache,
        selection=args.selection,
    )
    return RunSpec(
        data=data,
        resolution=ResolutionSpec.from_args(args, data.dataset),
        model=model,
        training=training,
        seed=args.seed,
        preset=args.preset,
    )


def cmd_train(args: argparse.Namespace, strategy: tf.distribute.Strategy) -> None:
    """``train``, under ``strategy`` (made by `main` with TensorFlow's first op: `--strategy`)."""
    from tfp_audio_vae.files import folder_lock
    from tfp_audio_vae.runs import Run
    from tfp_audio_vae.training.distribute import is_chief

    run = Run(args.run_dir)
    verbose = 2 if args.quiet else "auto"
    options = {"strategy": strategy, "force": args.force, "cache_dir": args.cache_dir}
    options["say"] = printer(args.quiet)
    if not is_chief(strategy):  # another worker of a cluster: the chief holds the folder
        run.train(_spec(args), verbose=verbose, **options)
        return
    with folder_lock(args.run_dir):  # one train at a time per run folder
        run.train(_spec(args), verbose=verbose, **options)
    print(f"model saved to {run.model_path}")


def _asked_classes(model, args: argparse.Namespace) -> tuple[list[int], list[str]] | None:
    """(labels, names) of the ``-n`` clips asked for with ``--class`` or ``--digit`` (cycled),
    or None. A digit d is the class named "d" (an FSDD model's); a model saved without class
    names (before they were saved) takes digits as labels."""
    if args.class_names is not None:
        names = args.class_names
    elif args.digit is not None:
        names = [str(d) for d in args.digit]
    else:
        return None
    names = [names[i % len(names)] for i in range(args.n)]
    if args.class_names is None and model.class_names is None:
        return [int(name) for name in names], names
    try:
        return model.class_labels(names), names
    except ValueError as error:
        option = "--class" if args.class_names is not None else "--digit"
        raise CommandError(f"{option}: {error}") from None


def cmd_generate(args: argparse.Namespace) -> None:
    from tfp_audio_vae.synthesis import generation

    model = _load(args.model)
    asked = _asked_classes(model, args)
    labels, names = asked if asked else (None, None)
    class_means = None
    method = args.method
    if labels is not None and (
        method == "class-mean" or (method == "auto" and not model.prior.conditional)
    ):
        class_means = _class_means(model, args)
        method = "class-mean"
    from tfp_audio_vae.synthesis.waveforms import write_wavs

    folder = _out_dir(args, "samples")
    suffix = "_digit" if args.digit is not None else "_"
    written = 0
    # GENERATE_BATCH clips at a time, each batch written before the next is made: memory stays
    # bounded for any -n, and files appear as they are made. Batch b uses seed + b.
    for start in range(0, args.n, GENERATE_BATCH):
        count = min(GENERATE_BATCH, args.n - start)
        waves = generation.generate(
            model,
            count,
            labels=None if labels is None else labels[start : start + count],
            method=method,
            class_means=class_means,
            temperature=args.temperature,
            n_iter=args.n_iter,
            seed=(args.seed + start // GENERATE_BATCH) % (MAX_SEED + 1),
        )
        files = [
            f"sample_{i:03d}" + (f"{suffix}{names[i]}" if names else "")
            for i in range(start, start + count)
        ]
        written += len(set(write_wavs(waves, folder, files, model.spectrogram_config.sample_rate)))
        if args.n > GENERATE_BATCH:  # long work talks: each batch as it lands
            print(f"{start + count} of {args.n} clips written to {folder}", flush=True)
    print(f"wrote {written} WAV files to {folder}")


def _class_means(model, args: argparse.Namespace, splits=None):
    """Each class's mean latent over the model's training data (``splits``, else `_data`'s)."""
    from tfp_audio_vae.data import pipeline
    from tfp_audio_vae.models.latents import class_mean_latents

    splits = splits or _data(args).splits()
    if splits.class_names is None:
        raise CommandError(f"{args.model}: the model's training data has no classes")
    data = pipeline.spectrogram_dataset(splits.train, model.spectrogram_config, cache="none")
    return class_mean_latents(model, data, num_classes=len(model.class_names or splits.class_names))


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from tfp_audio_vae.synthesis import generation

    model = _load(args.model)
    waves = generation.reconstruct_files(
        model, args.files, n_iter=args.n_iter, seed=args.seed, refine_steps=args.refine_steps
    )  # one [samples] per file: each written at its own length
    _write(waves, _out_dir(args, "reconstructions"), _reconstruction_names(args.files), model)


def _reconstruction_names(files: Sequence[str]) -> list[str]:
    """``{stem}_reconstruction``, one distinct name per file: where stems collide (a.wav, a.flac)
    the extension joins the name (a_wav_reconstruction), and a counter after that (same name in
    two folders, or one file given twice)."""
    stems = [Path(f).stem for f in files]
    names: list[str] = []
    for file, stem in zip(files, stems, strict=True):
        name = stem
        if stems.count(stem) > 1 and Path(file).suffix:
            name = f"{stem}_{Path(file).suffix.lstrip('.')}"
        base, copy = name, 1
        while f"{name}_reconstruction" in names:
            copy += 1
            name = f"{base}_{copy}"
        names.append(f"{name}_reconstruction")
    return names


def cmd_interpolate(args: argparse.Namespace) -> None:
    from tfp_audio_vae.synthesis import generation

    model = _load(args.model)
    waves = generation.interpolate(
        model, args.start, args.end, steps=args.steps, n_iter=args.n_iter, seed=args.seed
    )
    stem = f"{Path(args.start).stem}_to_{Path(args.end).stem}"
    names = [f"{stem}_{i:02d}" for i in range(args.steps)]
    _write(waves, _out_dir(args, "interpolations"), names, model)


def _test_split(model, splits, limit: int | None):
    """(test waveforms, labels, batched test spectrograms) of ``splits``, at most ``limit``
    test clips."""
    from tfp_audio_vae.data import pipeline

    records = pipeline.evenly_spaced(splits.test, limit)
    waves, labels = pipeline.load_waveforms(records, model.spectrogram_config)
    data = pipeline.spectrogram_dataset(records, model.spectrogram_config)
    return waves, labels, data


def cmd_evaluate(args: argparse.Namespace) -> None:
    from tfp_audio_vae.evaluation.metrics import evaluate
    from tfp_audio_vae.files import atomic_output
    from tfp_audio_vae.runs import judge_for

    if args.perceptual:
        from tfp_audio_vae.evaluation.perceptual import require

        try:
            require()
        except ImportError as error:
            raise CommandError(str(error)) from None
    model = _load(args.model)
    data = _data(args)
    splits = data.splits()
    if splits.class_names is None:
        raise CommandError(f"{args.model}: evaluate needs labelled data for its judge")
    waves, labels, _ = _test_split(model, splits, args.limit)
    say = printer(args.quiet)
    if say and data.dataset != "fsdd":
        say(f"loading the judge of this data set (trained on its {len(splits.all_train)} "
            "training clips and cached on first use)")  # fmt: skip
    elif say:
        say("loading FSDD's judge (trained on the FSDD train split and cached on first use)")
    judge = judge_for(data, splits, verbose=0 if args.quiet else 2, say=say)
    if say:
        say(f"evaluating on {len(waves)} test clips (IWAE k={args.k}, {args.samples} samples)")
    results = evaluate(
        model,
        waves,
        labels,
        judge,
        class_means=_class_means(model, args, splits),
        k=args.k,
        n_samples=args.samples,
        seed=args.seed,
        say=say,
        perceptual=args.perceptual,
    )
    out = Path(args.out) if args.out else _run(args).outputs / "metrics.json"
    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(results, indent=2, default=float))
    likelihood, generation = results["likelihood"], results["generation"]
    print(
        f"test -ELBO {likelihood['neg_elbo']:.1f} nats, -IWAE {likelihood['neg_iwae']:.1f} "
        f"nats ({likelihood['bits_per_dim_iwae']:.4f} bits/dim), KL {likelihood['kl']:.1f}"
    )
    print(
        f"reconstructions heard as their class: {results['reconstruction']['judge_accuracy']:.1%}"
        f" (real audio {results['real_audio']['accuracy']:.1%})"
    )
    print(
        f"Inception Score of prior samples: {generation['unconditional']['inception_score']:.2f}"
        f" (real audio {results['real_audio']['inception_score']:.2f})"
    )
    if generation["conditional"]:
        print(f"class samples heard as asked: {generation['conditional']['accuracy']:.1%}")
    if args.perceptual:
        _print_perceptual(results["reconstruction"], results["perceptual_ceiling"])
    print(f"wrote {out}")


def _print_perceptual(reconstruction: dict, ceiling: dict) -> None:
    """One line per perceptual score of the reconstructions, beside the Griffin-Lim ceiling."""
    for name in ("pesq_nb", "pesq_wb", "stoi"):
        if name in reconstruction:
            recon, best = reconstruction[name], ceiling[name]
            print(
                f"reconstructions' {name}: {_mean(recon['mean'])} over {recon['scored']} clips "
                f"(Griffin-Lim from true magnitudes {_mean(best['mean'])} over {best['scored']})"
            )


def _mean(value: float | None) -> str:
    """A perceptual mean for a line of text; ``None`` (no clip scored) reads "none"."""
    return "none" if value is None else f"{value:.3f}"


def cmd_plot(args: argparse.Namespace) -> None:
    from tfp_audio_vae.evaluation import plots

    model = _load(args.model)
    *_, data = _test_split(model, _data(args).splits(), args.limit)
    out = _out_dir(args, "figures")
    history = _run(args).folder / "history.csv"
    with step(printer(), f"figures of {args.model} (t-SNE of the test clips' latents included)"):
        plots.plot_model(
            model, data, out, history=history if history.is_file() else None, seed=args.seed
        )
    print(f"wrote figures to {out}")


def cmd_explore(args: argparse.Namespace) -> None:
    try:
        from tfp_audio_vae.explorer.app import serve
    except ImportError as error:
        raise CommandError(
            f"the explorer needs its web packages ({error.name} is missing): "
            "pip install 'tfp-audio-vae[app]'"
        ) from None
    from tfp_audio_vae.explorer.session import Explorer

    model = _model_ref(args.model)  # a missing model fails before the test clips are read
    print(f"encoding {args.limit or 'all'} test clips of the model's data", flush=True)
    explorer = Explorer.from_run(
        model, fsdd_root=args.fsdd, limit=args.limit, n_iter=args.n_iter, seed=args.seed
    )
    explorer.warm_up()
    serve(
        explorer,
        host=args.host,
        port=args.port,
        open_browser=not args.no_browser,
        require_token=not args.no_token,
        allowed_hosts=args.allow_host or (),
    )


def cmd_export(args: argparse.Namespace) -> None:
    from tfp_audio_vae.export import export_model

    run = _run(args)
    out = export_model(
        run.load_model(),
        _out_dir(args, "export"),
        format=args.format,
        n_iter=args.n_iter,
        seed=args.seed,
        spec=run.spec(),
    )
    print(f"wrote a SavedModel (signatures decode, sample, encode) to {out}")


# --------------------------------------------------------------------------- parser


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        help="a run folder (holding model.keras), a .keras file, or a pretrained model shipped "
        "with the package: fsdd (pretrained:fsdd)",
    )
    _add_import(parser)


def _add_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module (name, or a .py file) that defines your own prior, encoder or "
        "decoder classes before the model is built or loaded; may be repeated",
    )


def _add_audio_out(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--out", help=f"folder for the WAV files (default: RUN/{default})")
    _add_synthesis(parser)


def _add_synthesis(parser: argparse.ArgumentParser) -> None:
    """Griffin-Lim's ``--n-iter`` and the ``--seed`` of the sounds made."""
    parser.add_argument(
        "--n-iter",
        type=_number(int, 1, 10_000),
        default=defaults.GRIFFIN_LIM_ITERATIONS,
        help=f"Griffin-Lim iterations, 1-10000 (default {defaults.GRIFFIN_LIM_ITERATIONS})",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")


def _add_fsdd(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fsdd",
        help="FSDD folder holding recordings/ (default: $TFP_AUDIO_VAE_FSDD, the cache, "
        "else download)",
    )


def _add_sc09(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sc09",
        help="SC09 folder holding zero/ ... nine/ and the split lists (default: "
        "$TFP_AUDIO_VAE_SC09, the cache, else download)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Variational autoencoders for audio spectrograms (TensorFlow Probability).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "download", help="fetch and verify a built-in data set: FSDD (default) or SC09"
    )
    p.add_argument(
        "dataset",
        nargs="?",
        choices=["fsdd", "sc09"],
        default="fsdd",
        help="fsdd: the Free Spoken Digit Dataset (default); sc09: the digit words of Speech "
        "Commands v0.02 (a 2.4 GB archive, checked by its SHA-256)",
    )
    p.add_argument("--dest", help="folder to download into (default: the user cache)")
    _add_fsdd(p)
    _add_sc09(p)
    p.add_argument("--verify", action="store_true", help="check every FSDD file's SHA-256")
    p.set_defaults(func=cmd_download)

    p = commands.add_parser(
        "train",
        help="train a VAE on FSDD, SC09 or a folder of audio",
        description="Train a VAE. Run again with the same --run-dir to resume after the last "
        "finished epoch.",
    )
    p.add_argument("--run-dir", required=True, help="run folder (created, or resumed)")
    p.add_argument(
        "--prior",
        default=defaults.PRIOR,
        help="standard: N(0, I); mog: a learnable mixture of Gaussians; conditional: a mixture "
        "with components per digit, trained with the labels; vamp: a VampPrior; realnvp: a "
        "flow; or the class name of your own Prior subclass, defined in a module given with "
        f"--import (default: {defaults.PRIOR})",
    )
    _add_import(p)
    p.add_argument(
        "--dataset",
        choices=["fsdd", "sc09"],
        default="fsdd",
        help="the built-in data set to train on (default fsdd); --data overrides it",
    )
    _add_fsdd(p)
    _add_sc09(p)
    p.add_argument(
        "--data",
        help="train on this folder of audio instead: with one sub-folder per class (labelled, "
        "classes sorted by name) or flat (unlabelled); split by its train/ and test/ "
        "sub-folders if it has them, else a tenth of each class held out",
    )
    defaults.add_resolution_arguments(p)
    defaults.add_preset_argument(p)
    p.add_argument(
        "--epochs",
        type=_number(int, 1, 100_000),
        help=f"total epochs (default {defaults.EPOCHS}, or the preset's)",
    )
    p.add_argument("--batch-size", type=_number(int, 1, 65_536), default=defaults.BATCH_SIZE)
    p.add_argument(
        "--latent-dim",
        type=_number(int, 1, 4096),
        help=f"size of z (default {defaults.LATENT_DIM}, or the preset's)",
    )
    p.add_argument(
        "--components",
        type=_number(int, 1, 10_000),
        default=None,
        help="mixture components, or classes of the conditional prior (default: the data's "
        f"classes, else {defaults.NUM_CLASSES})",
    )
    p.add_argument(
        "--components-per-class",
        type=_number(int, 1, 10_000),
        default=defaults.COMPONENTS_PER_CLASS,
        help=f"components per class of the conditional prior (default "
        f"{defaults.COMPONENTS_PER_CLASS})",
    )
    p.add_argument(
        "--fit-prior-every",
        type=_number(int, 0, 100_000),
        default=None,
        help="refit the prior to the aggregate posterior every N epochs (0: never; default "
        f"{defaults.FIT_PRIOR_EVERY} for the mixtures, never for priors that cannot be refitted)",
    )
    p.add_argument(
        "--learning-rate",
        type=_number(float, 0, 10, low_open=True),
        default=defaults.LEARNING_RATE,
        help=f"Adam's peak learning rate, in (0, 10] (default {defaults.LEARNING_RATE})",
    )
    p.add_argument(
        "--lr-schedule",
        choices=["cosine", "constant"],
        default=defaults.LR_SCHEDULE,
        help=f"warm-up then cosine decay, or constant (default {defaults.LR_SCHEDULE})",
    )
    p.add_argument(
        "--weight-decay",
        type=_number(float, 0, 10),
        default=defaults.WEIGHT_DECAY,
        help=f"AdamW's weight decay of the network, 0 for Adam (default {defaults.WEIGHT_DECAY})",
    )
    p.add_argument(
        "--speeds",
        type=parse_speeds,
        default=defaults.SPEEDS,
        help="speed perturbation: each epoch takes each training clip at one of these speeds "
        "(pitch and tempo together), e.g. 0.9,1.0,1.1 "
        f"(default {','.join(map(str, defaults.SPEEDS))})",
    )
    p.add_argument(
        "--network",
        choices=["conv1d", "conv2d"],
        default=defaults.NETWORK,
        help="frequency bins as channels of 1-D convolutions over time, or image-style 2-D "
        f"convolutions (default {defaults.NETWORK})",
    )
    p.add_argument(
        "--local-dim",
        type=_count,
        default=defaults.LOCAL_DIM,
        help="time-local latents per 16 STFT frames (128 ms at 8 kHz), with a prior conditioned on z, "
        f"beside the global z; conv1d only (default {defaults.LOCAL_DIM}: z alone)",
    )
    p.add_argument(
        "--local-prior",
        choices=defaults.LOCAL_PRIORS,
        default=defaults.LOCAL_PRIOR,
        help="p(u | z) of the local latents: frames independent given z, or each also given the "
        f"frames before it (default {defaults.LOCAL_PRIOR})",
    )
    p.add_argument(
        "--local-components",
        type=_positive_int,
        default=defaults.LOCAL_COMPONENTS,
        help="Gaussians in the mixture of each local frame's prior "
        f"(default {defaults.LOCAL_COMPONENTS}: one)",
    )
    p.add_argument(
        "--decoder-scale",
        choices=["optimal", "bin", "pixel", "global"],
        default=defaults.DECODER_SCALE,
        help="the likelihood's scale: the batch's RMS error per bin in training (the sigma-VAE's "
        "optimal scale), one learned value per bin, per cell, or one in all "
        f"(default {defaults.DECODER_SCALE})",
    )
    p.add_argument(
        "--beta", type=_number(float, 0, 1e6), default=1.0, help="KL weight (1 = the ELBO), >= 0"
    )
    p.add_argument("--warmup-steps", type=_count, default=0, help="linear KL warm-up steps, >= 0")
    p.add_argument(
        "--free-nats", type=_number(float, 0, 1e6), default=0.0, help="free nats of KL per example"
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--skip-bad-files", action="store_true", help="skip unreadable files")
    p.add_argument(
        "--limit", type=_positive_int, help="use only this many training files (quick trials)"
    )
    p.add_argument(
        "--validation-fraction",
        type=_number(float, 0, 0.9),
        default=defaults.VALIDATION_FRACTION,
        help="share of the training clips held out to validate (stratified by class and "
        "speaker): the held-out bound after each epoch and the likelihood's calibrated scale; "
        "SC09 uses its own validation list (default %(default)s)",
    )
    p.add_argument(
        "--selection",
        choices=["last", "best"],
        default=defaults.CHECKPOINT_SELECTION,
        help="end on the last epoch's weights or on those of the best held-out bound "
        "(default %(default)s)",
    )
    p.add_argument(
        "--cache",
        choices=["auto", "memory", "disk", "none"],
        default="auto",
        help="where the train set's spectrograms are kept: memory, shards on disk, nowhere "
        "(computed every epoch), or auto: memory up to 1 GiB (FSDD), else disk (default auto)",
    )
    p.add_argument(
        "--cache-dir",
        help="folder for the spectrogram shards (default: spectrograms/ in the package cache)",
    )
    p.add_argument("--force", action="store_true", help="resume despite changed settings")
    p.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bar")
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=defaults.STRATEGY,
        help="default: one device; mirrored: a replica per local GPU; multiworker: the cluster "
        "in TF_CONFIG (each worker runs this same command; --batch-size is the global batch); "
        "auto: multiworker when TF_CONFIG is set, else default",
    )
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("generate", help="sample new audio from a trained model")
    _add_model(p)
    p.add_argument("-n", type=_positive_int, default=10, help="number of clips (default 10)")
    asked = p.add_mutually_exclusive_group()
    asked.add_argument(
        "--digit", type=_digits, help="digit(s) to say, e.g. 7 or 0,3,7 (cycled over -n)"
    )
    asked.add_argument(
        "--class",
        dest="class_names",
        type=_class_list,
        metavar="NAME",
        help="class(es) of the training data by name, e.g. dog or cat,dog (cycled over -n); "
        "FSDD's are 0-9, SC09's zero-nine, a folder's its sub-folders",
    )
    p.add_argument(
        "--method",
        choices=["auto", "prior", "class-mean"],
        default="auto",
        help="for --digit or --class: the conditional prior p(z|class), or the mean latent of "
        "the class's training clips plus noise (auto: the prior where the model has one)",
    )
    p.add_argument(
        "--temperature",
        type=_number(float, 0, 100, low_open=True),
        default=defaults.TEMPERATURE,
        help="spread of prior draws around their component, in (0, 100] (default "
        f"{defaults.TEMPERATURE}; 1 samples the prior itself)",
    )
    _add_fsdd(p)
    _add_audio_out(p, "samples")
    p.set_defaults(func=cmd_generate)

    p = commands.add_parser(
        "reconstruct",
        help="encode and decode audio files",
        description="Encode and decode audio files, whole: a file longer than the model's "
        "window (1.024 s for FSDD models) is reconstructed in windows half a window apart, "
        "cross-faded, and written at its own length.",
    )
    _add_model(p)
    p.add_argument(
        "files",
        nargs="+",
        help="audio files (any rate, depth, channels, length; long ones window by window)",
    )
    _add_audio_out(p, "reconstructions")
    p.add_argument(
        "--refine-steps",
        type=_count,
        default=defaults.REFINE_STEPS,
        help="Adam steps refining each clip's latent beyond the encoder's guess, towards its "
        f"MAP latent: slower, closer reconstructions (default {defaults.REFINE_STEPS})",
    )
    p.set_defaults(func=cmd_reconstruct)

    p = commands.add_parser("interpolate", help="walk the latent space between two clips")
    _add_model(p)
    p.add_argument("start", help="first audio file")
    p.add_argument("end", help="last audio file")
    p.add_argument(
        "--steps", type=_number(int, 2, 10_000), default=8, help="clips along the way (default 8)"
    )
    _add_audio_out(p, "interpolations")
    p.set_defaults(func=cmd_interpolate)

    p = commands.add_parser(
        "evaluate",
        help="likelihood, reconstruction and generation figures on the test split",
        description="Evaluate a model through real audio on the test split of the data it was "
        "trained on (FSDD's, SC09's test list, or its folder's held-out clips, as its train.json "
        "says; --fsdd forces FSDD), beside the same figures for real test audio, judged by a "
        "classifier of that data set (trained and cached on first use); writes metrics.json.",
    )
    _add_model(p)
    _add_fsdd(p)
    p.add_argument(
        "--k",
        type=_number(int, 1, 100_000),
        default=defaults.IWAE_K,
        help=f"IWAE samples (default {defaults.IWAE_K})",
    )
    p.add_argument(
        "--samples",
        type=_number(int, 1, 1_000_000),
        default=defaults.GENERATED_CLIPS,
        help=f"generated clips (default {defaults.GENERATED_CLIPS})",
    )
    p.add_argument("--limit", type=_positive_int, help="use only this many test clips")
    p.add_argument("--out", help="metrics file (default: RUN/metrics.json)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--quiet", action="store_true", help="print only the figures, no progress lines")
    p.add_argument(
        "--perceptual",
        action="store_true",
        help="also PESQ and STOI of the reconstructions and of Griffin-Lim from the true "
        "magnitudes (needs: pip install 'tfp-audio-vae[perceptual]')",
    )
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser("plot", help="figures of a model: spectrograms, latents, prior")
    _add_model(p)
    _add_fsdd(p)
    p.add_argument("--limit", type=_positive_int, help="use only this many test clips")
    p.add_argument("--out", help="folder for the PNGs (default: RUN/figures)")
    p.add_argument("--seed", type=_seed, default=0)
    p.set_defaults(func=cmd_plot)

    p = commands.add_parser(
        "export",
        help="write a self-contained TensorFlow SavedModel: latents or classes in, audio out",
        description="Write the model as a SavedModel that plain TensorFlow serves, with no "
        "Python from this package: the decoder, the audio statistic, the level and Griffin-Lim "
        "in the graph. Signatures: decode (z -> waveform), sample (labels, temperature, seed -> "
        "waveform, z) and encode (waveform -> posterior mean, stddev); export.json beside it "
        "records the run. See docs/export.md.",
    )
    _add_model(p)
    p.add_argument(
        "--format",
        choices=["savedmodel", "tflite"],
        default="savedmodel",
        help="savedmodel (default); tflite also converts decode to TFLite's built-in ops, which "
        "fails for this graph with the ops it cannot carry",
    )
    p.add_argument("--out", help="folder for the SavedModel (default: RUN/export)")
    _add_synthesis(p)
    p.set_defaults(func=cmd_export)

    p = commands.add_parser(
        "explore",
        help="a local web page to hear and explore a model (needs the [app] extra)",
        description="Serve a page on this machine: the test clips' latent map (click to hear a "
        "clip and its reconstruction), prior and per-digit samples, interpolation, one slider "
        "per active latent dimension, and your own uploads. Ctrl-C stops it.",
    )
    _add_model(p)
    _add_fsdd(p)
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=_number(int, 1, 65_535), default=8765, help="port (default 8765)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="also answer requests for this host name (repeatable; 127.0.0.1, localhost, ::1 "
        "and --host always are)",
    )
    p.add_argument(
        "--no-token",
        action="store_true",
        help="need no token in the URL (any program or user that reaches the port can use it)",
    )
    p.add_argument("--limit", type=_positive_int, help="map only this many test clips")
    _add_synthesis(p)
    p.set_defaults(func=cmd_explore)
    return parser


def _make_strategy(name: str) -> tf.distribute.Strategy:
    from tfp_audio_vae.training.distribute import make_strategy

    return make_strategy(name)


def _one_line(error: BaseException) -> str:
    message = " ".join(str(error).split()) or type(error).__name__
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        defaults.apply_preset(args)
        from tfp_audio_vae.training.cluster import resolve_strategy

        try:
            resolve_strategy(args.strategy)  # a bad TF_CONFIG, before TensorFlow starts
        except ValueError as error:
            print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
            return 2
        strategy = quiet_tensorflow(lambda: _make_strategy(args.strategy))
        args.func = functools.partial(cmd_train, strategy=strategy)
    elif args.command != "download":
        quiet_tensorflow()
    from tfp_audio_vae.data.archives import DatasetError
    from tfp_audio_vae.data.audio_files import AudioFileError
    from tfp_audio_vae.files import FolderInUseError
    from tfp_audio_vae.training.callbacks import NonFiniteLossError

    try:
        _import_user_code(getattr(args, "imports", []))
        if getattr(args, "seed", None) is not None:
            # The entry point seeds Python, NumPy and TensorFlow globally; the library passes
            # --seed explicitly to every initializer and sampler and never seeds globally itself.
            import keras

            keras.utils.set_random_seed(args.seed)
        args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (
        CommandError,
        AudioFileError,
        DatasetError,
        FolderInUseError,
        NonFiniteLossError,
        FileNotFoundError,
        ValueError,
        OSError,
    ) as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except Exception as error:
        tf = sys.modules.get("tensorflow")
        if tf is None or not isinstance(error, tf.errors.OpError):
            raise
        # an error raised inside a TensorFlow op (e.g. by a file read in tf.data): its own
        # "...Error: ..." line says what, not the graph dump around it
        lines = [line.strip() for line in str(error.message).splitlines() if line.strip()]
        said = [line for line in lines if "Error: " in line] or lines or [type(error).__name__]
        print(f"{PROG}: error: {_one_line(said[-1])}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
