"""The `zoo` command: list, info, datasets, train, launch, tune, export, predict, generate,
sample, vectors, stylize, train-style, tiles, codes, quickstart."""

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


def cmd_list(args) -> int:
    import zoo

    names = zoo.list_models(args.pattern)
    if not names:
        print(f"No registered model matches {args.pattern!r}.")
        return 1
    rows = [(n, zoo.get_spec(n).family, zoo.get_spec(n).task, zoo.get_spec(n).summary) for n in names]
    widths = [max(len(r[i]) for r in rows + [("model", "family", "task", "")]) for i in range(3)]
    print(f"{'model':<{widths[0]}}  {'family':<{widths[1]}}  {'task':<{widths[2]}}  summary")
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    return 0


def cmd_info(args) -> int:
    import zoo

    spec = zoo.get_spec(args.model)
    model = zoo.build(spec.name)
    print(f"{spec.name}: {spec.summary}")
    print(f"  family     {spec.family}\n  task       {spec.task}\n  reference  {spec.reference}")
    print(f"  defaults   {json.dumps(dict(spec.defaults), default=str)}")
    print(f"  training   optimizer={spec.optimizer} learning_rate={spec.learning_rate} "
          f"loss={spec.loss} metrics={list(spec.metrics)}")
    if spec.alternative_optimizers:
        print(f"  searchable optimizers {json.dumps(spec.learning_rates)}")
    print(f"  dataset    {spec.dataset} {dict(spec.dataset_options) or ''}")
    print(f"  shapes     {model.input_shape} -> {model.output_shape}, {model.count_params():,} parameters")
    if spec.search_space is not None:
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        spec.search_space(hp)
        print("  search space:")
        for p in hp.space:
            print(f"    {p.name}: {type(p).__name__} {p.get_config()}")
    return 0


def cmd_datasets(args) -> int:
    import pipelines

    for name in pipelines.list_datasets():
        info = pipelines.get_info(name)
        splits = ", ".join(f"{k} {v}" for k, v in info.splits.items())
        print(f"{name:<12} {info.task:<22} {str(info.feature_shape):<10} {splits}")
    print("Any TFDS catalog name works too (e.g. mnist, cifar10), with --data-dir/--manual-dir.")
    return 0


def _data_options(args) -> dict:
    opts = _key_values(args.data_option, "--data-option")
    for key in ("data_dir", "manual_dir"):
        if getattr(args, key, None):
            opts[key] = getattr(args, key)
    if getattr(args, "augment", None):
        opts["augment"] = tuple(args.augment)
    return opts


def cmd_train(args) -> int:
    from zoo.runtime.training import train

    if args.export:  # a bad name or base folder fails now, not after training
        from zoo.runtime.exporter import check_export_target

        check_export_target(args.base_dir, args.name)
    result = train(
        args.model,
        args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        optimizer=args.optimizer,
        weight_decay=args.weight_decay,
        lr_schedule=args.lr_schedule,
        seed=args.seed,
        overrides=_key_values(args.set, "--set"),
        data_options=_data_options(args),
        run_dir=args.run_dir,
        runs_root=args.runs_root,
        strategy=args.strategy,
        cpu_replicas=args.cpu_replicas,
        mixed_precision=args.mixed_precision,
        jit_compile="auto" if args.jit_compile is None else args.jit_compile,
        verbose="auto" if args.verbose is None else args.verbose,
    )
    last = result.history[-1] if result.history else {}
    print("Final epoch: " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k != "epoch"))
    print(f"Run folder: {result.run_dir}")
    if args.export and not _is_chief():
        print("Not the chief worker: the chief exports.")
    elif args.export:
        from zoo.runtime.exporter import export_trained

        exported = export_trained(result.model, result.spec, result.plan, args.name,
                                  base_dir=args.base_dir, metrics=last)
        print(f"Exported: {exported.path}")
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

    if args.export:  # a bad name or base folder fails now, not after the search
        from zoo.runtime.exporter import check_export_target

        check_export_target(args.base_dir, args.name)
    try:
        result = tuning.search(
            args.model,
            args.data,
            tuner=args.tuner,
            max_trials=args.max_trials,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            directory=args.directory,
            overrides=_key_values(args.set, "--set"),
            data_options=_data_options(args),
            fixed=_key_values(args.fix, "--fix"),
            max_consecutive_failed_trials=args.max_failures,
            workers=args.workers,
            timeout=args.timeout,
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
    if args.export:
        best = tuning.train_best(
            result, epochs=args.final_epochs, lr_schedule=args.lr_schedule, export=True,
            export_name=args.name, export_options={"base_dir": args.base_dir},
        )
        print(f"Exported: {best.export_result.path}")
    return 0


def cmd_export(args) -> int:
    from zoo.runtime.exporter import check_export_target, export_trained
    from zoo.runtime.run import checkpoint_path, load_model, plan_from_run

    check_export_target(args.base_dir, args.name, args.static_batch)
    # A folder that is not a run, a damaged run.json or .keras: ValueErrors naming it.
    spec, plan = plan_from_run(args.run_dir)
    model = load_model(checkpoint_path(args.run_dir, args.checkpoint))
    result = export_trained(model, spec, plan, args.name, base_dir=args.base_dir,
                            version=args.version, static_batch=args.static_batch)
    check = result.manifest["verification"]
    print(f"Exported {result.path} (max abs diff {check['max_abs_diff']:.2g}, "
          f"XLA {check['xla_max_abs_diff']:.2g})")
    return 0


def cmd_generate(args) -> int:
    from zoo.runtime.generate import generate

    try:
        text = generate(args.source, args.prompt, args.length, args.temperature, args.top_k,
                        args.seed)
    except (FileNotFoundError, ValueError) as e:
        raise CommandError(str(e)) from None
    print(text)
    return 0


def cmd_sample(args) -> int:
    from zoo.runtime.artifacts import sample_images
    from zoo.tasks.gan import grid_scale
    from zoo.runtime.images import save_grid

    try:
        images = sample_images(args.source, args.count, args.seed, args.checkpoint)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    path = save_grid(images, args.out, columns=args.columns,
                     scale=args.scale or grid_scale(images.shape[1]))
    print(f"Wrote {path}: {len(images)} images {images.shape[1]}x{images.shape[2]}, "
          f"seeds {args.seed}..{args.seed + args.count - 1}")
    return 0


def cmd_vectors(args) -> int:
    from zoo.runtime.artifacts import word_vectors_from_run
    from zoo.tasks.word_vectors import UnknownWordError

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


def cmd_stylize(args) -> int:
    from zoo.models.style_transfer import resolve_weights, stylize
    from zoo.models.weights import WeightsUnavailableError

    try:
        weights = resolve_weights(args.weights)  # first: offline without the file fails now
    except (WeightsUnavailableError, FileNotFoundError) as e:
        raise CommandError(str(e)) from None
    for path in (args.content, args.style):
        if not Path(path).is_file():
            raise CommandError(f"image file {path} does not exist.")
    layer_weights = _key_values(args.layer_weight, "--layer-weight") or None
    result = stylize(
        args.content, args.style, steps=args.steps, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight, layer_weights=layer_weights,
        size=args.size, optimizer=args.optimizer, learning_rate=args.lr, weights=weights,
        pooling=args.pooling, init=args.init, seed=args.seed, every=args.every,
        snapshot_path=args.out, verbose=1,
    )
    from zoo.runtime.images import save_png

    save_png(result.image, args.out)
    h, w = result.image.shape[:2]
    print("Losses (weighted total; content, style, tv unweighted): "
          + "; ".join(f"{k} {result.initial[k]:.4g} -> {result.final[k]:.4g}"
                      for k in ("loss", "content", "style", "tv")))
    print(f"{len(result.history)} {args.optimizer} steps at {w}x{h} in {result.seconds:.1f} s "
          f"({result.steps_per_second:.2f} steps/s after the first)")
    for path in result.snapshots:
        print(f"Intermediate: {path}")
    print(f"Wrote {args.out}")
    return 0


def cmd_tiles(args) -> int:
    from zoo.runtime.artifacts import load_autoencoder
    from zoo.tasks.autoencoding import save_hidden_units

    try:
        model = load_autoencoder(args.source, args.checkpoint)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    path, (rows, columns) = save_hidden_units(model, args.out, args.columns, args.scale)
    print(f"Wrote {path}: {rows} x {columns} tiles, the input weights of each hidden unit")
    return 0


def cmd_codes(args) -> int:
    from zoo.runtime.artifacts import load_autoencoder
    from zoo.tasks.autoencoding import code_figures_table, compare_codes_with_pca
    from zoo.runtime.run import plan_from_run

    try:
        _, plan = plan_from_run(args.run_dir)
        model = load_autoencoder(args.run_dir, args.checkpoint)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    figures = compare_codes_with_pca(model, plan, args.out, k=args.k)
    print(json.dumps(figures))
    print(code_figures_table(figures))
    print(f"Wrote {args.out}")
    return 0


def cmd_train_style(args) -> int:
    import keras
    import numpy as np

    import zoo
    from zoo.models.fast_style import FastStyleTrainer, content_crops, export_fast_style
    from zoo.runtime.images import save_png
    from zoo.models.style_transfer import load_image, resolve_weights, sample_images
    from zoo.runtime.exporter import check_export_target
    from zoo.models.weights import WeightsUnavailableError

    check_export_target(args.base_dir, args.name)  # a bad name fails now, not after training
    try:
        weights = resolve_weights(args.weights)  # first: offline without the file fails now
    except (WeightsUnavailableError, FileNotFoundError) as e:
        raise CommandError(str(e)) from None
    if not Path(args.style).is_file():
        raise CommandError(f"image file {args.style} does not exist.")
    if args.size < 4 or args.size % 4:
        raise CommandError(f"--size must be a multiple of 4. Received: {args.size}")
    keras.utils.set_random_seed(args.seed)
    network = zoo.build("fast_style_network", filters=args.filters,
                        residual_blocks=args.residual_blocks)
    trainer = FastStyleTrainer(
        network, zoo.build("style_transfer", weights=weights), load_image(args.style, args.size),
        content_weight=args.content_weight, style_weight=args.style_weight,
        tv_weight=args.tv_weight, learning_rate=args.lr)
    images = content_crops(args.size, count=args.crops, seed=args.seed)
    bar = keras.utils.Progbar(args.steps, stateful_metrics=["loss", "content", "style", "tv"])
    history = trainer.fit(images, args.steps, batch_size=args.batch_size, seed=args.seed,
                          callback=lambda step, losses: bar.update(step, list(losses.items())))
    first, last = history[0], history[-1]
    print("Losses (first -> last step): " + "; ".join(
        f"{k} {first[k]:.4g} -> {last[k]:.4g}" for k in ("loss", "content", "style", "tv")))
    if args.preview:
        content = sample_images(4 * args.size)[0]
        h, w = (d - d % 4 for d in content.shape[:2])
        stylized = network(content[None, :h, :w].astype("float32"))
        save_png(np.clip(np.rint(np.asarray(stylized)[0] * 255), 0, 255).astype("uint8"),
                 args.preview)
        print(f"Preview: {args.preview}")
    result = export_fast_style(network, args.name, base_dir=args.base_dir)
    check = result.manifest["verification"]
    print(f"Exported {result.path} (max abs diff {check['max_abs_diff']:.2g}, "
          f"XLA {check['xla_max_abs_diff']:.2g})")
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


def cmd_quickstart(args) -> int:
    from zoo.quickstart import quickstart

    quickstart(
        base_dir=args.base_dir,
        work_dir=args.work_dir,
        max_epochs=args.max_epochs,
        final_epochs=args.final_epochs,
        seed=args.seed,
    )
    return 0


def _add_data_args(p) -> None:
    p.add_argument("--data", help="dataset name (default: the model's own)")
    p.add_argument("--data-option", action="append", metavar="NAME=VALUE",
                   help="dataset option, e.g. gate=xor (repeatable)")
    p.add_argument("--augment", action="append", choices=["shift", "crop", "flip"],
                   help="image augmentation on the training split (repeatable)")
    p.add_argument("--data-dir", help="TFDS data folder")
    p.add_argument("--manual-dir", help="folder with TFDS source files, for offline preparation")
    p.add_argument("--set", action="append", metavar="ARG=VALUE",
                   help="builder argument, e.g. depth=3 (repeatable)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered models")
    p.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'resnet*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="show a model's spec, shapes and search space")
    p.add_argument("model")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("datasets", help="list built-in datasets")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("train", help="train a model (resumable: rerun to resume)")
    p.add_argument("model")
    _add_data_args(p)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the spec's)")
    p.add_argument("--optimizer", help="a Keras optimizer name, or 'momentum' (SGD, momentum "
                   "0.9); default: the spec's")
    p.add_argument("--weight-decay", type=float, help="decoupled weight decay, e.g. 1e-4")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant")
    p.add_argument("--run-dir", help="run folder (default: runs/<model>-<dataset>)")
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--export", action="store_true", help="export the trained model")
    p.add_argument("--name", help="export name (default: the model name)")
    p.add_argument("--base-dir", default="saved_models")
    p.add_argument("--strategy", default="auto",
                   choices=["auto", "default", "mirrored", "multiworker", "tpu"],
                   help="tf.distribute strategy (auto: TPU, else several GPUs, else one "
                        "device); --batch-size is the global batch")
    p.add_argument("--cpu-replicas", type=int, metavar="N",
                   help="split the CPU into N logical devices (mirrored on CPU)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="mixed_bfloat16 policy (mixed_float16 on GPU), float32 outputs")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                   help="XLA-compile the training step (default: Keras' choice)")
    p.add_argument("--verbose", type=int, choices=[0, 1, 2],
                   help="Keras fit verbosity (default: progress bars on a terminal)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("launch", help="run N local workers of a multi-worker command "
                       "(TF_CONFIG on 127.0.0.1 ports)",
                       description="Start N local worker processes of `zoo COMMAND ...` with "
                       "TF_CONFIG set for each (free 127.0.0.1 ports), prefix their output, "
                       "stop all if one fails, and return the chief's exit code. Example: "
                       "zoo launch --workers 2 -- train mlp --data digits --epochs 3")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds before all workers are stopped (exit code 124)")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds the other workers get to exit after one fails or the chief "
                        "finishes, before they are killed")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="-- then a zoo command, e.g. -- train mlp --data digits")
    p.set_defaults(func=cmd_launch)

    p = sub.add_parser("tune", help="hyperparameter search with Keras Tuner (resumable)")
    p.add_argument("model")
    _add_data_args(p)
    p.add_argument("--tuner", default="hyperband", choices=["hyperband", "random", "bayesian", "grid"])
    p.add_argument("--max-trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=10, help="epochs per trial (hyperband: max epochs)")
    p.add_argument("--fix", action="append", metavar="HP=VALUE", help="fix a hyperparameter")
    p.add_argument("--max-failures", type=int, default=3, help="max consecutive failed trials")
    p.add_argument("--directory", default="tuning_runs")
    p.add_argument("--workers", type=int, help="distributed search: this process is the chief "
                   "and starts N local worker processes (Keras Tuner's chief/worker mode)")
    p.add_argument("--timeout", type=float, help="seconds a distributed search may take")
    p.add_argument("--export", action="store_true", help="train the best model and export it")
    p.add_argument("--final-epochs", type=int, default=20)
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="cosine",
                   help="learning-rate schedule of the final training (with --export)")
    p.add_argument("--name", help="export name (default: the model name)")
    p.add_argument("--base-dir", default="saved_models")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("export", help="export a trained run as a versioned SavedModel")
    p.add_argument("run_dir", help="a run folder written by `zoo train`")
    p.add_argument("--name", help="export name (default: the model name)")
    p.add_argument("--version", type=int, help="explicit version (refused if it exists)")
    p.add_argument("--checkpoint", choices=["best", "final"], default="best")
    p.add_argument("--static-batch", type=int, help="fix the batch size (TPU serving)")
    p.add_argument("--base-dir", default="saved_models")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="predict with an exported SavedModel")
    p.add_argument("saved_model_dir", help="saved_models/<name>/<version>")
    p.add_argument("input", help=".npy file (memory-mapped, served in batches) or image "
                   "(PNG/JPEG)")
    p.add_argument("--top", type=int, default=3, help="classes printed per example (>= 1)")
    p.add_argument("--batch-size", type=int, help="examples per call (default 256, or the "
                   "export's fixed batch size)")
    p.add_argument("--scale", type=float, help="multiply the inputs by SCALE first; integer "
                   "inputs are then rounded to the nearest integer (--scale 255 maps [0, 1] "
                   "floats onto uint8 images)")
    p.add_argument("--out", metavar="FILE", help="write every output to FILE.npy (the raw array) or FILE.csv "
                   "(one row per example) instead of printing; needed above 10,000 examples")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("stylize", help="neural style transfer (Gatys et al. 2015): render "
                       "CONTENT in the style of STYLE")
    p.add_argument("content", help="content image (PNG/JPEG)")
    p.add_argument("style", help="style image (PNG/JPEG)")
    p.add_argument("--out", default="stylized.png", help="result PNG")
    p.add_argument("--steps", type=int, default=300, help="Adam steps or L-BFGS iterations")
    p.add_argument("--content-weight", type=float, default=1e4)
    p.add_argument("--style-weight", type=float, default=1e-2)
    p.add_argument("--tv-weight", type=float, default=30.0, help="total-variation weight")
    p.add_argument("--layer-weight", action="append", metavar="LAYER=W",
                   help="weight of one style layer, e.g. block1_conv1=0.5 (repeatable; "
                        "default 1/5 each)")
    p.add_argument("--size", type=int, default=512, help="longer image side in pixels "
                   "(images are shrunk to it, never enlarged)")
    p.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam")
    p.add_argument("--lr", type=float, default=0.02, help="Adam step size on [0, 1] pixels")
    p.add_argument("--every", type=int, help="also save the image every K steps "
                   "(OUT_step<N>.png)")
    p.add_argument("--weights", default="imagenet", help="VGG19 weights: imagenet (the "
                   "keras.applications notop file in the Keras cache), none (random: a smoke "
                   "run) or a file")
    p.add_argument("--pooling", choices=["max", "avg"], default="max")
    p.add_argument("--init", choices=["content", "noise"], default="content")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("train-style", help="train a feed-forward style network for one style "
                       "(Johnson et al. 2016) and export it")
    p.add_argument("style", help="style image (PNG/JPEG)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--size", type=int, default=128, help="training crop size (multiple of 4)")
    p.add_argument("--crops", type=int, default=512, help="random crops of the offline photos")
    p.add_argument("--content-weight", type=float, default=1e4)
    p.add_argument("--style-weight", type=float, default=1e-2)
    p.add_argument("--tv-weight", type=float, default=30.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--residual-blocks", type=int, default=5)
    p.add_argument("--weights", default="imagenet", help="VGG19 weights of the loss: imagenet, "
                   "none (random: a smoke run) or a file")
    p.add_argument("--preview", help="also write china.jpg stylized by the network (PNG)")
    p.add_argument("--name", default="fast_style_network", help="export name")
    p.add_argument("--base-dir", default="saved_models")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_style)

    p = sub.add_parser("generate", help="sample text from a language model (run folder or export)")
    p.add_argument("source", help="runs/<model>-<dataset> or saved_models/<name>/<version>")
    p.add_argument("--prompt", default="")
    p.add_argument("--length", type=int, default=300, help="tokens to generate")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int)
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("sample", help="sample a PNG grid from a generator (DCGAN run or export)")
    p.add_argument("source", help="runs/<model>-<dataset> or saved_models/<name>/<version>")
    p.add_argument("--count", type=int, default=64, help="images (seeds seed..seed+count-1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="samples.png", help="PNG file to write")
    p.add_argument("--columns", type=int, help="grid columns (default: a square grid)")
    p.add_argument("--scale", type=int, help="pixel repetition (default: about 64 px per image)")
    p.add_argument("--checkpoint", choices=["best", "final"], default="best",
                   help="which model of a run folder")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("vectors", help="query word vectors of a run: neighbours, analogies, projector")
    p.add_argument("run_dir", help="a word-vector run folder (runs/<model>-<dataset>)")
    p.add_argument("--neighbors", action="append", metavar="WORD", help="nearest words by cosine")
    p.add_argument("--analogy", action="append", metavar="A:B::C", help="A is to B as C is to ?")
    p.add_argument("-k", type=int, default=10, help="how many words to list")
    p.add_argument("--projector", metavar="FOLDER", help="write TensorBoard projector TSV files")
    p.set_defaults(func=cmd_vectors)

    p = sub.add_parser("tiles", help="autoencoder hidden units: each unit's input weights as a PNG tile grid")
    p.add_argument("source", help="a run folder (runs/<model>-<dataset>) or a .keras file")
    p.add_argument("--out", default="units.png", help="PNG file to write")
    p.add_argument("--columns", type=int, help="tiles per row (default: a square grid)")
    p.add_argument("--scale", type=int, default=8, help="pixels per weight")
    p.add_argument("--checkpoint", choices=["best", "final"], default="best")
    p.set_defaults(func=cmd_tiles)

    p = sub.add_parser("codes", help="2-D autoencoder codes vs PCA, coloured by class (PNG + figures)")
    p.add_argument("run_dir", help="a run of an autoencoder trained with --set code_size=2")
    p.add_argument("--out", default="codes.png", help="PNG file to write")
    p.add_argument("-k", type=int, default=5, help="neighbours of the kNN accuracy")
    p.add_argument("--checkpoint", choices=["best", "final"], default="best")
    p.set_defaults(func=cmd_codes)

    p = sub.add_parser("quickstart", help="offline demo: search, train, export, reload LeNet-5")
    p.add_argument("--base-dir", default="saved_models")
    p.add_argument("--work-dir", default="runs/quickstart")
    p.add_argument("--max-epochs", type=int, default=9, help="Hyperband max epochs per trial")
    p.add_argument("--final-epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_quickstart)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from pipelines import DatasetUnavailableError, OptionError
    from zoo.registry import ArgumentError, UnknownModelError

    expected = (ValueError, FileExistsError, UnknownModelError, ArgumentError, OptionError,
                DatasetUnavailableError, TimeoutError)  # TimeoutError: a search's --timeout
    try:
        return args.func(args)
    except expected as exc:
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from zoo.runtime.exporter import ExportError

        if isinstance(exc, ExportError):
            print(f"zoo: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
