"""The `zoo` command: list, info, datasets, train, runs, launch, tune, export, predict, evaluate,
generate, sample, vectors, stylize, train-style, tiles, codes, reproduce, quickstart.

A thin layer: each command parses its flags and calls one library function (its
Python API), printing what it returns. Choices and defaults come from the library's
constants. A command's flags are added when that command runs, so `zoo --help`,
`zoo list`, `zoo info` and `zoo datasets` import neither TensorFlow nor Keras.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class CommandError(ValueError):
    """An expected failure of a command: `main` prints it as one `zoo: error:` line, exit 2."""


def _parse_value(text: str):
    """CLI values: JSON when it parses (3, 0.5, true, [32, 32, 1]), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _key_values(pairs: list[str] | None, what: str) -> dict:
    result = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise CommandError(f"{what} must look like NAME=VALUE. Received: {pair!r}")
        key, value = pair.split("=", 1)
        value = _parse_value(value)
        result[key] = tuple(value) if isinstance(value, list) else value
    return result


def _progress_verbosity(requested: int | None = None):
    """Keras progress output: `requested` when given; else progress bars on a terminal
    and one line per epoch (2) when the output is piped or redirected, where a bar's
    backspaces and carriage returns would only garble the file."""
    if requested is not None:
        return requested
    return "auto" if sys.stdout.isatty() else 2


def _bar_verbosity() -> int:
    """`keras.utils.Progbar` verbosity: a bar on a terminal (1), else one line at the end (2)."""
    return 1 if _progress_verbosity() == "auto" else 2


def _run_source(path: str) -> str:
    """A run folder to read: a group folder (`runs/<model>-<dataset>`) becomes its newest
    completed version, and which one is printed; any other path is kept."""
    from zoo.runtime.run import resolve_run_folder

    folder, note = resolve_run_folder(path)
    if note:
        print(note)
    return str(folder)


def _output_path(out: str | None, source: str | os.PathLike | None, filename: str,
                 command: str) -> Path:
    """Where a command writes a figure: `--out` when given; else `filename` in the run
    folder it read (a folder `zoo train` wrote, holding run.json); else under
    runs/<command>/. Never the current folder, which is often the repository."""
    if out:
        return Path(out)
    if source is not None and (Path(source) / "run.json").is_file():
        return Path(source) / filename
    from zoo.runtime.names import RUNS_ROOT

    return Path(RUNS_ROOT) / command / filename


# ----------------------------------------------------------------- models and datasets


def cmd_list(args) -> int:
    from zoo.catalog import format_list, list_entries

    entries = list_entries(args.pattern)
    if not entries:
        print(f"No registered model matches {args.pattern!r}.")
        return 1
    print("\n".join(format_list(entries)))
    return 0


def cmd_info(args) -> int:
    from zoo.catalog import format_info, info_entry

    print("\n".join(format_info(info_entry(args.model))))
    return 0


def cmd_datasets(args) -> int:
    import pipelines

    rows = []
    for name in pipelines.list_datasets():
        info = pipelines.get_info(name)
        splits = ", ".join(f"{k} {v}" for k, v in info.splits.items())
        rows.append((name, info.task, str(info.feature_shape), splits))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths)) + f"  {row[3]}")
    print("Any TFDS catalog name works too (e.g. mnist, cifar10), with --data-dir/--manual-dir.")
    return 0


# ----------------------------------------------------------------- train, launch, tune


def _data_options(args) -> dict:
    opts = _key_values(args.data_option, "--data-option")
    for key in ("target", "task", "validation_split"):  # own data (pipelines.own)
        if getattr(args, key, None) is not None:
            opts[key] = getattr(args, key)
    for key in ("data_dir", "manual_dir"):
        if getattr(args, key, None):
            opts[key] = getattr(args, key)
    if getattr(args, "augment", None):
        opts["augment"] = tuple(args.augment)
    return opts


def cmd_train(args) -> int:
    from zoo.runtime.training import train

    if args.export:  # a bad name, base folder or format fails now, not after training
        from zoo.runtime.exporter import check_export_target
        from zoo.runtime.formats import check_formats

        check_export_target(args.base_dir, args.name)
        check_formats(args.format)
    result = train(
        args.model, args.data, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, optimizer=args.optimizer, weight_decay=args.weight_decay,
        lr_schedule=args.lr_schedule, seed=args.seed, overrides=_key_values(args.set, "--set"),
        data_options=_data_options(args), run_dir=args.run_dir, runs_root=args.runs_root,
        strategy=args.strategy, cpu_replicas=args.cpu_replicas,
        mixed_precision=args.mixed_precision, clipnorm=args.clipnorm,
        early_stopping=args.early_stopping, reduce_lr_on_plateau=args.reduce_lr_on_plateau,
        jit_compile="auto" if args.jit_compile is None else args.jit_compile,
        verbose=_progress_verbosity(args.verbose),
    )
    last = result.history[-1] if result.history else {}
    print("Final epoch: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k != "epoch"))
    print(f"Run folder: {result.run_dir}")
    if args.export and not _is_chief():
        print("Not the chief worker: the chief exports.")
    elif args.export:
        from zoo.runtime.exporter import export_trained

        exported = export_trained(result.model, result.spec, result.plan, args.name,
                                  base_dir=args.base_dir, metrics=last, formats=args.format)
        print(f"Exported: {exported.path}")
        _print_formats(exported.manifest["formats"])
    return 0


def cmd_runs(args) -> int:
    from zoo.runtime.runs import format_runs, list_runs

    rows = list_runs(args.root)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(format_runs(rows))
    else:
        print(f"No runs under {args.root}.")
    return 0


def _is_chief() -> bool:
    from zoo.runtime.distribute import is_chief, tf_config

    task = tf_config().get("task", {})
    return is_chief(task.get("type"), int(task.get("index", 0)))


def cmd_launch(args) -> int:
    from zoo.runtime.launch import launch

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    return launch(command, workers=args.workers, timeout=args.timeout, grace=args.grace)


def cmd_tune(args) -> int:
    import tuning

    if args.export:  # a bad name, base folder or format fails now, not after the search
        tuning.check_export_options(args.name, {"base_dir": args.base_dir, "formats": args.format})
        tuning.check_plateau_schedule(args.lr_schedule, args.reduce_lr_on_plateau)
    verbose = 1 if _progress_verbosity() == "auto" else 2
    try:
        result = tuning.search(
            args.model, args.data, tuner=args.tuner, max_trials=args.max_trials,
            epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
            directory=args.directory, overrides=_key_values(args.set, "--set"),
            data_options=_data_options(args), fixed=_key_values(args.fix, "--fix"),
            max_consecutive_failed_trials=args.max_failures, workers=args.workers,
            timeout=args.timeout, verbose=verbose, max_time=args.max_time,
            project_name=args.project_name, early_stopping=args.early_stopping,
            reduce_lr_on_plateau=args.reduce_lr_on_plateau,
        )
    except tuning.SearchFailedError as e:  # no trial completed; the table names each error
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    if result.tuner_id not in (None, "chief"):  # a worker of a distributed search
        print(f"Worker {result.tuner_id} ran trial(s) {', '.join(result.worker_trials) or '-'}; "
              f"the chief writes {result.results_csv}")
        return 0
    print(tuning.format_table(result.rows))
    print(f"Best hyperparameters: {json.dumps(result.best_hyperparameters)}")
    print(f"Results: {result.results_csv}")
    if result.stop_reason:
        print(result.stop_reason)
    if args.export:
        best = tuning.train_best(
            result, epochs=args.final_epochs, lr_schedule=args.lr_schedule, export=True,
            export_name=args.name,
            export_options={"base_dir": args.base_dir, "formats": args.format},
            verbose=_progress_verbosity(),
        )
        print(f"Exported: {best.export_result.path}")
        _print_formats(best.export_result.manifest["formats"])
    return 0


# ----------------------------------------------------------------- export, predict, generate


def cmd_export(args) -> int:
    from zoo.runtime.exporter import check_export_target, export_trained
    from zoo.runtime.formats import check_formats
    from zoo.runtime.run import Run

    check_export_target(args.base_dir, args.name, args.static_batch)
    check_formats(args.format)  # an unknown format, or its missing package, before loading
    # A folder that is not a run, a damaged run.json or .keras: ValueErrors naming it.
    run = Run(_run_source(args.run_dir))
    spec, plan = run.plan()
    model = run.load(args.checkpoint)
    result = export_trained(model, spec, plan, args.name, base_dir=args.base_dir,
                            version=args.version, static_batch=args.static_batch,
                            formats=args.format)
    check = result.manifest["verification"]
    print(f"Exported {result.path} (max abs diff {check['max_abs_diff']:.2g}, "
          f"XLA {check['xla_max_abs_diff']:.2g})")
    _print_formats(result.manifest["formats"])
    return 0


def _print_formats(formats: dict) -> None:
    """One line per extra format's file, and per signature it does not carry, with why."""
    for fmt, entry in formats.items():
        if fmt == "saved_model":
            continue
        for sig, figures in entry["signatures"].items():
            print(f"  {fmt}: {figures['file']} ({sig}, max abs diff "
                  f"{figures['max_abs_diff']:.2g})")
        for sig, reason in entry["skipped"].items():
            print(f"  {fmt}: {sig} not converted: {reason}")


def cmd_evaluate(args) -> int:
    from zoo.runtime.evaluate import evaluate, format_report

    result = evaluate(args.source, args.split, args.data, out=args.out,
                      batch_size=args.batch_size, checkpoint=args.checkpoint)
    print(format_report(result.report))
    print(f"Evaluation: {result.path}")
    return 0


def cmd_predict(args) -> int:
    from zoo._common import check_positive_int
    from zoo.runtime.predict import predict_file, predict_to_file

    check_positive_int("top", args.top)  # also with --out, where it is unused
    options = dict(batch_size=args.batch_size, scale=args.scale)
    if args.out:
        path, rows = predict_to_file(args.saved_model_dir, args.input, args.out, **options)
        print(f"Wrote {rows} predictions to {path}")
        return 0
    for line in predict_file(args.saved_model_dir, args.input, top=args.top, **options):
        print(line)
    return 0


def cmd_generate(args) -> int:
    from zoo.runtime.generate import generate

    try:
        text = generate(_run_source(args.source), args.prompt, args.length, args.temperature,
                        args.top_k, args.seed)
    except (FileNotFoundError, ValueError) as e:
        raise CommandError(str(e)) from None
    print(text)
    return 0


# ----------------------------------------------------------------- task tools


def cmd_sample(args) -> int:
    from zoo.runtime.artifacts import sample_images
    from zoo.tasks.gan import grid_scale
    from zoo.images import save_grid

    args.source = _run_source(args.source)
    try:
        images = sample_images(args.source, args.count, args.seed, args.checkpoint)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    out = _output_path(args.out, args.source, "samples.png", "sample")
    path = save_grid(images, out, columns=args.columns,
                     scale=args.scale or grid_scale(images.shape[1]))
    print(f"Wrote {path}: {len(images)} images {images.shape[1]}x{images.shape[2]}, "
          f"seeds {args.seed}..{args.seed + args.count - 1}")
    return 0


def cmd_vectors(args) -> int:
    from zoo.runtime.artifacts import word_vectors_from_run
    from zoo.tasks.word_vectors import UnknownWordError

    args.run_dir = _run_source(args.run_dir)
    try:
        vectors = word_vectors_from_run(args.run_dir)
    except FileNotFoundError as e:
        raise CommandError(f"{args.run_dir} is not a finished word-vector run ({e}).") from None
    try:
        for word in args.neighbors or []:
            print(f"Nearest to {word!r} (cosine):")
            for neighbour, cosine in vectors.most_similar(word, args.k):
                print(f"  {neighbour:<16} {cosine:.3f}")
        for query in args.analogy or []:
            a, b, c = _analogy_words(query)
            print(f"{a} : {b} :: {c} : ? (nearest to {b} - {a} + {c})")
            for answer, cosine in vectors.analogy(a, b, c, args.k):
                print(f"  {answer:<16} {cosine:.3f}")
    except UnknownWordError as e:
        raise CommandError(str(e)) from None
    if args.projector:
        paths = vectors.write_projector(args.projector)
        print(f"Projector files: {paths['vectors']} ({len(vectors.vocabulary)} x "
              f"{vectors.vectors.shape[1]}), {paths['metadata']}, {paths['config']}")
    return 0


def _analogy_words(query: str) -> tuple[str, str, str]:
    """"man:king::woman" -> ("man", "king", "woman")."""
    left, sep, c = query.partition("::")
    a, colon, b = left.partition(":")
    if not (sep and colon and a and b and c):
        raise CommandError(f"--analogy must look like A:B::C (e.g. man:king::woman). "
                           f"Received: {query!r}")
    return a, b, c


def cmd_tiles(args) -> int:
    from zoo.runtime.artifacts import load_autoencoder
    from zoo.tasks.autoencoding import save_hidden_units

    args.source = _run_source(args.source)
    try:
        model = load_autoencoder(args.source, args.checkpoint)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    out = _output_path(args.out, args.source, "units.png", "tiles")
    path, (rows, columns) = save_hidden_units(model, out, args.columns, args.scale)
    print(f"Wrote {path}: {rows} x {columns} tiles, the input weights of each hidden unit")
    return 0


def cmd_codes(args) -> int:
    from zoo.runtime.artifacts import load_autoencoder
    from zoo.tasks.autoencoding import code_figures_table, compare_codes_with_pca
    from zoo.runtime.run import Run

    args.run_dir = _run_source(args.run_dir)
    try:
        _, plan = Run(args.run_dir).plan()
        model = load_autoencoder(args.run_dir, args.checkpoint)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    out = _output_path(args.out, args.run_dir, "codes.png", "codes")
    figures = compare_codes_with_pca(model, plan, out, k=args.k)
    print(json.dumps(figures))
    print(code_figures_table(figures))
    print(f"Wrote {out}")
    return 0


# ----------------------------------------------------------------- style transfer


def cmd_stylize(args) -> int:
    from zoo.runtime.style import LOSS_NAMES, stylize

    out = _output_path(args.out, None, "stylized.png", "stylize")
    result = stylize(
        args.content, args.style, steps=args.steps, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight,
        layer_weights=_key_values(args.layer_weight, "--layer-weight") or None,
        size=args.size, optimizer=args.optimizer, learning_rate=args.lr, weights=args.weights,
        pooling=args.pooling, init=args.init, seed=args.seed, every=args.every,
        snapshot_path=out, verbose=_bar_verbosity(),
    )
    from zoo.images import save_png

    save_png(result.image, out)
    h, w = result.image.shape[:2]
    print("Losses (weighted total; content, style, tv unweighted): " + "; ".join(
        f"{k} {result.initial[k]:.4g} -> {result.final[k]:.4g}" for k in LOSS_NAMES))
    print(f"{len(result.history)} {args.optimizer} steps at {w}x{h} in {result.seconds:.1f} s "
          f"({result.steps_per_second:.2f} steps/s after the first)")
    for path in result.snapshots:
        print(f"Intermediate: {path}")
    print(f"Wrote {out}")
    return 0


def cmd_train_style(args) -> int:
    from zoo.runtime.style import LOSS_NAMES, train_style

    result = train_style(
        args.style, steps=args.steps, batch_size=args.batch_size, size=args.size,
        crops=args.crops, content_weight=args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, learning_rate=args.lr, filters=args.filters,
        residual_blocks=args.residual_blocks, weights=args.weights, preview=args.preview,
        name=args.name, base_dir=args.base_dir, seed=args.seed, verbose=_bar_verbosity(),
    )
    first, last = result.history[0], result.history[-1]
    print("Losses (first -> last step): " + "; ".join(
        f"{k} {first[k]:.4g} -> {last[k]:.4g}" for k in LOSS_NAMES))
    if result.preview is not None:
        print(f"Preview: {result.preview}")
    check = result.export.manifest["verification"]
    print(f"Exported {result.export.path} (max abs diff {check['max_abs_diff']:.2g}, "
          f"XLA {check['xla_max_abs_diff']:.2g})")
    return 0


def cmd_reproduce(args) -> int:
    from zoo.reproduce import format_list, reproduce

    if args.list:
        print(format_list())
        return 0
    if not args.claim:
        raise CommandError("Give a claim id, or --list to see the claims.")
    result = reproduce(args.claim, quick=args.quick, seeds=args.seeds, out=args.out)
    for line in result.record.get("report", []):
        print(line)
    print(result.summary)
    written = [result.folder / name for name in (result.record.get("figure"), "result.json")
               if name]
    print("Wrote " + ", ".join(map(str, written)))
    return 0


def cmd_quickstart(args) -> int:
    from zoo.quickstart import quickstart

    quickstart(base_dir=args.base_dir, work_dir=args.work_dir, max_epochs=args.max_epochs,
               final_epochs=args.final_epochs, seed=args.seed)
    return 0


# ----------------------------------------------------------------- the parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where there is none to show (None, a switch
    that is off) or the help text already says what it is."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _CommandParser(argparse.ArgumentParser):
    """A command's parser whose flags are added when the command is parsed or its help
    shown (`add_flags(parser)`): the modules holding other commands' choices stay
    unimported, and `zoo --help` or `zoo list` start in a fraction of a second."""

    def __init__(self, *args, add_flags=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_flags = add_flags

    def _ensure_flags(self) -> None:
        if self._add_flags is not None:
            add_flags, self._add_flags = self._add_flags, None
            add_flags(self)

    def parse_known_args(self, args=None, namespace=None):
        self._ensure_flags()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._ensure_flags()
        return super().format_help()

    def format_usage(self) -> str:
        self._ensure_flags()
        return super().format_usage()


def _list_flags(p) -> None:
    p.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'resnet*'")


def _info_flags(p) -> None:
    p.add_argument("model", help="a registered model name (`zoo list`)")


def _no_flags(p) -> None:
    pass


def _data_flags(p) -> None:
    """Dataset, builder and batch flags shared by `train` and `tune`."""
    from pipelines import AUGMENTATIONS

    p.add_argument("model", help="a registered model name (`zoo list`)")
    p.add_argument("--data", help="dataset name (default: the model's own), or your own data: "
                   "a folder of images or texts with one subfolder per class, a .csv or "
                   ".parquet table (with --target), a .npz of x and y")
    p.add_argument("--target", help="a table's target column")
    p.add_argument("--task", choices=["classification", "binary_classification", "regression"],
                   help="what own data's labels mean (default: integers and strings classify, "
                   "floats regress)")
    p.add_argument("--validation-split", type=float, metavar="FRACTION",
                   help="own data without a validation split: the fraction held out "
                   "(stratified, seeded; default 0.1)")
    p.add_argument("--data-option", action="append", metavar="NAME=VALUE",
                   help="dataset option, e.g. gate=xor (repeatable)")
    p.add_argument("--augment", action="append", choices=list(AUGMENTATIONS),
                   help="image augmentation on the training split (repeatable)")
    p.add_argument("--data-dir", help="TFDS data folder")
    p.add_argument("--manual-dir", help="folder with TFDS source files, for offline preparation")
    p.add_argument("--set", action="append", metavar="ARG=VALUE",
                   help="builder argument, e.g. depth=3 (repeatable)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per step")
    p.add_argument("--seed", type=int, default=0, help="random seed")


def _export_flags(p, name_help="export name (default: the model name)",
                  formats: bool = True) -> None:
    from zoo.runtime.names import EXPORT_BASE_DIR

    p.add_argument("--name", help=name_help)
    p.add_argument("--base-dir", default=EXPORT_BASE_DIR,
                   help="exports go to BASE_DIR/<name>/<version>")
    if formats:
        p.add_argument("--format", default="saved_model", metavar="FORMATS",
                       help="comma-separated: saved_model (always written), onnx (model.onnx), "
                       "litert (model.tflite); e.g. --format saved_model,onnx,litert")


def _train_flags(p) -> None:
    from zoo.runtime.distribute import STRATEGIES
    from zoo.runtime.names import LR_SCHEDULES, RUNS_ROOT

    _data_flags(p)
    p.add_argument("--epochs", type=int, default=10, help="epochs to train")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the spec's)")
    p.add_argument("--optimizer", help="a Keras optimizer name, or 'momentum' (SGD, momentum "
                   "0.9); default: the spec's")
    p.add_argument("--weight-decay", type=float, help="decoupled weight decay, e.g. 1e-4")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=LR_SCHEDULES[0],
                   help="learning-rate schedule")
    p.add_argument("--clipnorm", type=float, help="clip each gradient to this L2 norm")
    p.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a new best val_loss (the spec's "
                        "monitor)")
    p.add_argument("--reduce-lr-on-plateau", type=int, metavar="PATIENCE",
                   help="halve the learning rate after PATIENCE epochs without a new best "
                        "(constant schedule only)")
    p.add_argument("--run-dir", help=f"run folder (default: {RUNS_ROOT}/<model>-<dataset>/"
                   "version_<N>, the version of these settings, else a new one)")
    p.add_argument("--runs-root", default=RUNS_ROOT, help="folder of the run folders")
    p.add_argument("--export", action="store_true", help="export the trained model")
    _export_flags(p)
    p.add_argument("--strategy", default=STRATEGIES[0], choices=STRATEGIES,
                   help="tf.distribute strategy (auto: TPU, else several GPUs, else one "
                        "device); --batch-size is the global batch")
    p.add_argument("--cpu-replicas", type=int, metavar="N",
                   help="split the CPU into N logical devices (mirrored on CPU)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="mixed_bfloat16 policy (mixed_float16 on GPU), float32 outputs")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                   help="XLA-compile the training step (default: Keras' choice)")
    p.add_argument("--verbose", type=int, choices=[0, 1, 2],
                   help="Keras fit verbosity (default: progress bars on a terminal, one line "
                        "per epoch when the output is piped)")


def _runs_flags(p) -> None:
    from zoo.runtime.names import RUNS_ROOT

    p.add_argument("root", nargs="?", default=RUNS_ROOT, help="folder searched for run folders")
    p.add_argument("--json", action="store_true", help="print the runs as JSON")


def _launch_flags(p) -> None:
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds before all workers are stopped (exit code 124)")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds the other workers get to exit after one fails or the chief "
                        "finishes, before they are killed")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="-- then a zoo command, e.g. -- train mlp --data digits")


def _tune_flags(p) -> None:
    import tuning
    from zoo.runtime.names import LR_SCHEDULES

    _data_flags(p)
    p.add_argument("--tuner", default="hyperband", choices=list(tuning.TUNERS),
                   help="Keras Tuner search algorithm")
    p.add_argument("--max-trials", type=int, default=10, help="trials to run (not hyperband)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per trial (hyperband: max epochs)")
    p.add_argument("--fix", action="append", metavar="HP=VALUE", help="fix a hyperparameter")
    p.add_argument("--max-failures", type=int, default=3, help="max consecutive failed trials")
    p.add_argument("--directory", default="tuning_runs", help="folder of the search projects")
    p.add_argument("--project-name", help="the project folder in DIRECTORY (default: "
                   "<model>-<dataset>-<tuner>/version_N, one version per set of settings)")
    p.add_argument("--max-time", type=float, metavar="SECONDS", help="start no trial once the "
                   "search has spent SECONDS (earlier runs of it included)")
    p.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop a trial after PATIENCE epochs without a better objective")
    p.add_argument("--reduce-lr-on-plateau", type=int, metavar="PATIENCE",
                   help="halve a trial's learning rate after PATIENCE epochs without progress")
    p.add_argument("--workers", type=int, help="distributed search: this process is the chief "
                   "and starts N local worker processes (Keras Tuner's chief/worker mode)")
    p.add_argument("--timeout", type=float, help="seconds a distributed search may take")
    p.add_argument("--export", action="store_true", help="train the best model and export it")
    p.add_argument("--final-epochs", type=int, default=20,
                   help="epochs of the best model's final training (with --export)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="cosine",
                   help="learning-rate schedule of the final training (with --export)")
    _export_flags(p)


def _export_command_flags(p) -> None:
    from zoo.runtime.run import CHECKPOINTS

    p.add_argument("run_dir", help="a run folder written by `zoo train` (a group "
                   "runs/<model>-<dataset>: its newest completed version)")
    p.add_argument("--version", type=int, help="explicit version (refused if it exists)")
    p.add_argument("--checkpoint", choices=list(CHECKPOINTS), default="best",
                   help="which model of the run folder")
    p.add_argument("--static-batch", type=int, help="fix the batch size (TPU serving)")
    _export_flags(p)


def _evaluate_flags(p) -> None:
    from zoo.runtime.evaluate import DEFAULT_BATCH_SIZE

    p.add_argument("source", help="a run folder (runs/<model>-<dataset>) or an export "
                   "(saved_models/<name>/<version>)")
    p.add_argument("--split", default="test", help="the split to measure")
    p.add_argument("--data", help="another dataset of the same shape (default: the trained one)")
    p.add_argument("--out", metavar="FOLDER", help="where evaluation.json and the figures go "
                   "(default: <run>/evaluations/<dataset>-<split>, or "
                   "evaluations/<name>-<version>/<dataset>-<split> for an export)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="examples per batch")
    _checkpoint_flag(p)


def _predict_flags(p) -> None:
    p.add_argument("saved_model_dir", help="saved_models/<name>/<version> (the SavedModel), or "
                   "its model.onnx (ONNX Runtime) or model.tflite (LiteRT): the format follows "
                   "the file")
    p.add_argument("input", help=".npy file (memory-mapped, served in batches) or image "
                   "(PNG/JPEG)")
    p.add_argument("--top", type=int, default=3, help="classes printed per example (>= 1)")
    p.add_argument("--batch-size", type=int, help="examples per call (default 256, or the "
                   "export's fixed batch size)")
    p.add_argument("--scale", type=float, help="multiply the inputs by SCALE first; integer "
                   "inputs are then rounded to the nearest integer (--scale 255 maps [0, 1] "
                   "floats onto uint8 images)")
    p.add_argument("--out", metavar="FILE", help="write every output to FILE.npy (the raw "
                   "array) or FILE.csv (one row per example) instead of printing; needed above "
                   "10,000 examples")


def _generate_flags(p) -> None:
    p.add_argument("source", help="a run folder (runs/<model>-<dataset>: its newest completed "
                   "version) or saved_models/<name>/<version>")
    p.add_argument("--prompt", default="", help="text the sample continues")
    p.add_argument("--length", type=int, default=300, help="tokens to generate")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--top-k", type=int, help="sample among the K likeliest tokens only")
    p.add_argument("--seed", type=int, help="random seed")


def _checkpoint_flag(p) -> None:
    from zoo.runtime.run import CHECKPOINTS

    p.add_argument("--checkpoint", choices=list(CHECKPOINTS), default="best",
                   help="which model of a run folder")


def _out_flag(p, filename: str, command: str) -> None:
    p.add_argument("--out", metavar="FILE", help=f"PNG file to write (default: {filename} in the "
                   f"run folder read, else runs/{command}/{filename})")


def _sample_flags(p) -> None:
    p.add_argument("source", help="a run folder (runs/<model>-<dataset>: its newest completed "
                   "version) or saved_models/<name>/<version>")
    p.add_argument("--count", type=int, default=64, help="images (seeds seed..seed+count-1)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    _out_flag(p, "samples.png", "sample")
    p.add_argument("--columns", type=int, help="grid columns (default: a square grid)")
    p.add_argument("--scale", type=int, help="pixel repetition (default: about 64 px per image)")
    _checkpoint_flag(p)


def _vectors_flags(p) -> None:
    p.add_argument("run_dir", help="a word-vector run folder (runs/<model>-<dataset>)")
    p.add_argument("--neighbors", action="append", metavar="WORD", help="nearest words by cosine")
    p.add_argument("--analogy", action="append", metavar="A:B::C", help="A is to B as C is to ?")
    p.add_argument("-k", type=int, default=10, help="how many words to list")
    p.add_argument("--projector", metavar="FOLDER", help="write TensorBoard projector TSV files")


def _tiles_flags(p) -> None:
    p.add_argument("source", help="a run folder (runs/<model>-<dataset>) or a .keras file")
    _out_flag(p, "units.png", "tiles")
    p.add_argument("--columns", type=int, help="tiles per row (default: a square grid)")
    p.add_argument("--scale", type=int, default=8, help="pixels per weight")
    _checkpoint_flag(p)


def _codes_flags(p) -> None:
    p.add_argument("run_dir", help="a run of an autoencoder trained with --set code_size=2")
    _out_flag(p, "codes.png", "codes")
    p.add_argument("-k", type=int, default=5, help="neighbours of the kNN accuracy")
    _checkpoint_flag(p)


def _loss_weight_flags(p) -> None:
    """Perceptual loss weights and VGG19 weights, shared by `stylize` and `train-style`."""
    from zoo.tasks.style import CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT

    p.add_argument("--content-weight", type=float, default=CONTENT_WEIGHT,
                   help="weight of the content loss")
    p.add_argument("--style-weight", type=float, default=STYLE_WEIGHT,
                   help="weight of the style loss")
    p.add_argument("--tv-weight", type=float, default=TV_WEIGHT, help="total-variation weight")
    p.add_argument("--weights", default="imagenet", help="VGG19 weights: imagenet (the "
                   "keras.applications notop file in the Keras cache), none (random: a smoke "
                   "run) or a file")
    p.add_argument("--seed", type=int, default=0, help="random seed")


def _stylize_flags(p) -> None:
    from zoo.tasks.style import LEARNING_RATE

    p.add_argument("content", help="content image (PNG/JPEG)")
    p.add_argument("style", help="style image (PNG/JPEG)")
    p.add_argument("--out", metavar="FILE", help="result PNG (default: runs/stylize/stylized.png)")
    p.add_argument("--steps", type=int, default=300, help="Adam steps or L-BFGS iterations")
    _loss_weight_flags(p)
    p.add_argument("--layer-weight", action="append", metavar="LAYER=W",
                   help="weight of one style layer, e.g. block1_conv1=0.5 (repeatable; "
                        "default 1/5 each)")
    p.add_argument("--size", type=int, default=512, help="longer image side in pixels "
                   "(images are shrunk to it, never enlarged)")
    p.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam",
                   help="Adam on the pixels, or scipy's L-BFGS-B")
    p.add_argument("--lr", type=float, default=LEARNING_RATE,
                   help="Adam step size on [0, 1] pixels")
    p.add_argument("--every", type=int, help="also save the image every K steps "
                   "(OUT_step<N>.png)")
    p.add_argument("--pooling", choices=["max", "avg"], default="max", help="VGG19 pooling")
    p.add_argument("--init", choices=["content", "noise"], default="content",
                   help="the image the optimisation starts from")


def _train_style_flags(p) -> None:
    p.add_argument("style", help="style image (PNG/JPEG)")
    p.add_argument("--steps", type=int, default=2000, help="Adam steps")
    p.add_argument("--batch-size", type=int, default=4, help="crops per step")
    p.add_argument("--size", type=int, default=128, help="training crop size (multiple of 4)")
    p.add_argument("--crops", type=int, default=512, help="random crops of the offline photos")
    _loss_weight_flags(p)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--filters", type=int, default=32, help="filters of the first convolution")
    p.add_argument("--residual-blocks", type=int, default=5, help="residual blocks")
    p.add_argument("--preview", metavar="FILE",
                   help="also write china.jpg stylized by the network to this PNG")
    _export_flags(p, name_help="export name", formats=False)
    p.set_defaults(name="fast_style_network")


def _reproduce_flags(p) -> None:
    from zoo.reproduce.runner import FULL_SEEDS, QUICK_SEEDS

    p.add_argument("claim", nargs="?", help="a claim id (see --list)")
    p.add_argument("--list", action="store_true", help="list the claims: sentence, source, "
                   "last measured effect, verdict and time")
    p.add_argument("--quick", action="store_true", help="the claim's small budget (under 30 s "
                   "a seed); writes under runs/reproduce unless --out is given")
    p.add_argument("--seeds", type=int, help=f"seeds 0..N-1 (default {FULL_SEEDS}, at least "
                   f"{FULL_SEEDS} for a full run; {QUICK_SEEDS} with --quick)")
    p.add_argument("--out", metavar="DIR", help="folder of <claim>/figure.png and result.json "
                   "(default: docs/reproductions for a full run, which also rewrites "
                   "docs/reproductions.md)")


def _quickstart_flags(p) -> None:
    from zoo.runtime.names import EXPORT_BASE_DIR, RUNS_ROOT

    p.add_argument("--base-dir", default=EXPORT_BASE_DIR, help="where the export goes")
    p.add_argument("--work-dir", default=f"{RUNS_ROOT}/quickstart",
                   help="folder of the search and the final run")
    p.add_argument("--max-epochs", type=int, default=9, help="Hyperband max epochs per trial")
    p.add_argument("--final-epochs", type=int, default=20, help="epochs of the final training")
    p.add_argument("--seed", type=int, default=0, help="random seed")


_LAUNCH_DESCRIPTION = (
    "Start N local worker processes of `zoo COMMAND ...` with TF_CONFIG set for each (free "
    "127.0.0.1 ports), prefix their output, stop all if one fails, and return the chief's "
    "exit code. Example: zoo launch --workers 2 -- train mlp --data digits --epochs 3")

# name, one-line help, flags, function; `zoo --help` lists them in this order.
COMMANDS = (
    ("list", "list registered models", _list_flags, cmd_list),
    ("info", "show a model's spec, shapes and search space", _info_flags, cmd_info),
    ("datasets", "list built-in datasets", _no_flags, cmd_datasets),
    ("train", "train a model (resumable: rerun to resume)", _train_flags, cmd_train),
    ("runs", "list the training runs under a folder: settings, status, best value",
     _runs_flags, cmd_runs),
    ("launch", "run N local workers of a multi-worker command (TF_CONFIG on 127.0.0.1 ports)",
     _launch_flags, cmd_launch),
    ("tune", "hyperparameter search with Keras Tuner (resumable)", _tune_flags, cmd_tune),
    ("export", "export a trained run as a versioned SavedModel", _export_command_flags,
     cmd_export),
    ("predict", "predict with an export (SavedModel, ONNX or LiteRT file)", _predict_flags,
     cmd_predict),
    ("evaluate", "measure a run or an export on a split: loss, metrics, per-class figures",
     _evaluate_flags, cmd_evaluate),
    ("stylize", "neural style transfer (Gatys et al. 2015): render CONTENT in the style of "
     "STYLE", _stylize_flags, cmd_stylize),
    ("train-style", "train a feed-forward style network for one style (Johnson et al. 2016) "
     "and export it", _train_style_flags, cmd_train_style),
    ("generate", "sample text from a language model (run folder or export)", _generate_flags,
     cmd_generate),
    ("sample", "sample a PNG grid from a generator (DCGAN run or export)", _sample_flags,
     cmd_sample),
    ("vectors", "query word vectors of a run: neighbours, analogies, projector", _vectors_flags,
     cmd_vectors),
    ("tiles", "autoencoder hidden units: each unit's input weights as a PNG tile grid",
     _tiles_flags, cmd_tiles),
    ("codes", "2-D autoencoder codes vs PCA, coloured by class (PNG + figures)", _codes_flags,
     cmd_codes),
    ("reproduce", "rerun a claim from a paper or tutorial over seeds: verdict, figure, JSON",
     _reproduce_flags, cmd_reproduce),
    ("quickstart", "offline demo: search, train, export, reload LeNet-5", _quickstart_flags,
     cmd_quickstart),
)


def make_parser() -> argparse.ArgumentParser:
    """The `zoo` parser: one sub-command per entry of `COMMANDS`, its flags added lazily."""
    parser = argparse.ArgumentParser(prog="zoo", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    for name, summary, add_flags, func in COMMANDS:
        description = _LAUNCH_DESCRIPTION if name == "launch" else summary
        p = sub.add_parser(name, help=summary, description=description, add_flags=add_flags,
                           formatter_class=_HelpFormatter)
        p.set_defaults(func=func)
    return parser


def _is_expected(exc: BaseException) -> bool:
    """Whether `exc` is one of the library's expected errors (bad arguments, names, data,
    files, exports, missing weights), which `main` reports in one line."""
    from pipelines import DatasetUnavailableError, OptionError
    from zoo.registry import ArgumentError, UnknownModelError

    expected = (ValueError, FileExistsError, FileNotFoundError, UnknownModelError, ArgumentError,
                OptionError, DatasetUnavailableError, TimeoutError)  # TimeoutError: --timeout
    if isinstance(exc, expected):
        return True
    # Errors of modules that import TensorFlow: raised only once the module was imported.
    lazy = (("zoo.runtime.exporter", "ExportError"), ("zoo.models.weights", "WeightsUnavailableError"))
    return any(isinstance(exc, getattr(sys.modules[module], name))
               for module, name in lazy if module in sys.modules)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - re-raised unless expected
        if not _is_expected(exc):
            raise
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
