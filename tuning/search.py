"""`tuning.search`: a resumable Keras Tuner search over a registered model.

A search lives in one project folder (printed by Keras Tuner on reload):

    tuning_runs/<model>-<dataset>-<tuner>/version_N/
        search.json                 settings; the same settings resume their own version
        budget.json                 seconds the search has spent (`max_time` counts them)
        oracle.json, tuner0.json    Keras Tuner state (reloaded: trials are never repeated)
        trial_<id>/                 one folder per trial (trial.json, best-epoch weights,
                                    runs.jsonl: who ran it, when, for how long)
        results.csv, results.json   one row per trial
        best_hyperparameters.json   the best trial's values and builder arguments
        best_trial_<id>/            `zoo.train` run of the best configuration (optional)
        workers/                    distributed search: search_args.json (what the local
                                    workers run; JSON, never a pickle), worker logs, launch.json

The dataset part of the default folder name is `zoo._common.safe_folder_name`
of the dataset string, so a dataset given as a path never leads outside
`directory`. Each set of settings gets its own `version_N` folder
(`zoo._common.versioned_folder`); an explicit `project_name` names the folder
itself and refuses other settings.

With `workers=N` the search runs in Keras Tuner's distributed mode: this
process is the chief (it serves the oracle over gRPC on loopback) and N
worker processes run the trials (`tuning.distributed`). The same call in a
process whose environment sets `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`
and `KERASTUNER_ORACLE_PORT` takes the part these name, for a search across
machines (README, "Distributed search").
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping

import keras_tuner

import pipelines
from tuning import best, distributed
from tuning.budget import TimeBudget
from tuning.hypermodel import ZooHyperModel, check_search_space
from tuning.results import (
    BEST_JSON,
    RESULTS_CSV,
    RESULTS_JSON,
    best_trial,
    format_table,
    trial_rows,
    write_json,
    write_table,
)
from tuning.tuners import TUNERS, make_tuner
from zoo._common import (check_finite_number, check_folder_name, check_positive_int,
                          safe_folder_name, versioned_folder)
from zoo.runtime.callbacks import plateau_callbacks
from zoo.registry import ModelSpec, get_spec
from zoo.tasks import get_task
from zoo.runtime.plan import plan_data

SETTINGS_JSON = "search.json"
ORACLE_JSON = "oracle.json"  # Keras Tuner's state; with tuner0.json, what a rerun reloads
TUNER_JSON = "tuner0.json"
# The arguments of `search` that a worker of a distributed search is started with.
WORKER_ARGS = ("model_name", "dataset", "tuner", "max_trials", "epochs", "batch_size", "seed",
               "objective", "overrides", "data_options", "fixed", "directory", "project_name",
               "max_consecutive_failed_trials", "verbose", "early_stopping",
               "reduce_lr_on_plateau")


class SearchFailedError(RuntimeError):
    """No trial of a search completed: every trial failed, or too many failed in a row.

    Raised after the results table is written; the message names its last error.
    """


@dataclasses.dataclass
class SearchResult:
    """What a search found, and where it wrote it.

    Attributes:
        model, dataset, tuner_name: What was searched, on what, how.
        objective: The objective's name (e.g. "val_loss").
        rows: The results table, one dict per trial (see `results.json`).
        best_trial_id, best_score: The best completed trial (None when none completed).
        best_hyperparameters: Its hyperparameter values (architecture and training).
        best_builder_args: The full builder arguments of the best trial.
        project_dir: The project folder; results_csv, results_json and
            best_path (None when no trial completed) lie in it.
        tuner: The Keras Tuner tuner (e.g. `tuner.get_best_models()`).
        hypermodel: The `ZooHyperModel` searched.
        best_model: The trained best configuration, when asked for (`train_best`).
        tuner_id: This process's part in a distributed search: "chief" (also
            with `workers=N`) or a worker's id; None for a single process.
        distributed: With `workers=N`: the port, seconds and each worker's
            processes and exit codes (as in `workers/launch.json`).
        worker_trials: The trial ids this process ran (a worker's result has
            no rows: the chief writes the table).
        stop_reason: Why the search stopped before its last trial (`max_time`), else None.
        seconds_spent: Seconds the search's trial loop has run, earlier runs included.
        early_stopping, reduce_lr_on_plateau: The plateau patiences of every trial
            (and of `train_best`'s training), or None.
    """

    model: str
    dataset: str
    tuner_name: str
    objective: str
    rows: list[dict]
    best_trial_id: str | None
    best_score: float | None
    best_hyperparameters: dict | None
    best_builder_args: dict | None
    project_dir: Path
    results_csv: Path
    results_json: Path
    best_path: Path | None
    tuner: Any
    hypermodel: ZooHyperModel
    epochs: int
    seed: int
    overrides: dict
    data_options: dict
    best_model: Any = None
    tuner_id: str | None = None
    distributed: dict | None = None
    worker_trials: list = dataclasses.field(default_factory=list)
    stop_reason: str | None = None
    seconds_spent: float | None = None
    early_stopping: int | None = None
    reduce_lr_on_plateau: int | None = None

    @property
    def table(self) -> str:
        """The results table as aligned text."""
        return format_table(self.rows)


def search(
    model_name: str, dataset: str | None = None, *, tuner: str = "hyperband",
    max_trials: int = 10, epochs: int = 10, batch_size: int = 32, seed: int = 0,
    objective: str | keras_tuner.Objective | None = None,
    overrides: Mapping[str, Any] | None = None, data_options: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None, directory: str | os.PathLike = "tuning_runs",
    project_name: str | None = None, max_consecutive_failed_trials: int = 3,
    train_best: bool = False, export: bool = False,
    export_options: Mapping[str, Any] | None = None, verbose: int | str = 1,
    workers: int | None = None, timeout: float | None = None, max_time: float | None = None,
    callbacks: list | None = None, early_stopping: int | None = None,
    reduce_lr_on_plateau: int | None = None,
) -> SearchResult:
    """Search a registered model's hyperparameters with Keras Tuner, resumably.

    The space is the model's own (builder arguments) plus `learning_rate` (log scale, ten
    times either side of the spec's default) and `batch_size` (half, once, twice). Every
    trial trains as `zoo.train` does. Rerunning resumes without repeating finished
    trials; failed trials are recorded, until `max_consecutive_failed_trials` in a row.

    Args:
        model_name, dataset: A registered model; a dataset (default: the spec's own).
        tuner: "hyperband", "random", "bayesian" or "grid".
        max_trials, epochs: Trials at most (not hyperband); epochs per trial (hyperband's
            largest budget). batch_size: The training space's default. seed: Seeds all.
        objective: Metric to optimize (default: the spec's monitor); a string's direction
            is inferred, a `keras_tuner.Objective` sets it.
        overrides, data_options, fixed: Builder arguments fixed for every trial (never
            ones the space chooses); extra `pipelines.load` options; hyperparameters held.
        directory, project_name: The project folder: `<model>-<dataset>-<tuner>/version_N`
            (the first version holding these settings, else a new one), or `project_name`
            (a plain folder name; one holding other settings is refused).
        train_best, export, export_options: Train (`tuning.train_best`) and export
            (`tuning.export_best`) the best configuration. verbose: 0 is silent.
        workers, timeout: A distributed search with this many local worker processes
            (logs in `workers/`), this process the chief, for at most `timeout` seconds.
        max_time: Seconds the search may spend, earlier runs included (`budget.json`): no
            trial starts once spent; a running one finishes. A rerun may change it.
        callbacks, early_stopping, reduce_lr_on_plateau: Keras callbacks for every trial
            (each gets a deep copy); patiences of plateau callbacks on the objective.

    Returns a `SearchResult` (the results table, the best trial, the paths, the tuner).
    Raises ValueError, DatasetUnavailableError or OptionError before any trial (bad
    arguments, data or space; a damaged project), TimeoutError past a distributed
    `timeout`, SearchFailedError when no trial completed (after the table is written).
    """
    # Own data (arrays, a DataFrame, tf.data) gets its name here: workers receive the name.
    dataset = None if dataset is None else pipelines.dataset_name(dataset)
    # What a worker needs to run the same search (the chief trains and exports the best).
    search_args = {name: value for name, value in locals().items() if name in WORKER_ARGS}
    search_args["directory"] = str(Path(directory).resolve())
    role = _check_arguments(
        tuner, seed=seed, workers=workers, timeout=timeout, project_name=project_name,
        counts=dict(max_trials=max_trials, epochs=epochs, batch_size=batch_size,
                    max_consecutive_failed_trials=max_consecutive_failed_trials),
    )
    plateau = dict(early_stopping=early_stopping, reduce_lr_on_plateau=reduce_lr_on_plateau)
    _check_single_process(role, workers, max_time, callbacks, plateau)
    if workers is not None:
        role = "launcher"
        distributed.encode_args(search_args)  # refuses what cannot reach the workers as JSON
    kt_tuner, common, what = _set_up(role, {**search_args, "directory": directory})
    fit_callbacks = _trial_callbacks(kt_tuner, callbacks, plateau)
    if role == "worker":
        return _run_worker(kt_tuner, common, epochs, verbose, fit_callbacks)
    rows, launch = _run_search(
        kt_tuner, role, epochs=epochs, verbose=verbose, workers=workers, timeout=timeout,
        search_args=search_args, max_time=max_time, callbacks=fit_callbacks,
        max_consecutive_failed_trials=max_consecutive_failed_trials,
    )
    result = SearchResult(
        rows=rows, **_write_best(kt_tuner, common["hypermodel"], common["project_dir"], what),
        tuner_id=None if role == "single" else "chief", distributed=launch,
        worker_trials=list(getattr(kt_tuner, "trials_run", [])), **common, **plateau,
        **_budget_fields(kt_tuner.budget, len(rows)),
    )
    if train_best or export:
        result.best_model = best.train_best(result, export=export, export_options=export_options,
                                            verbose=verbose)
    return result


def _run_worker(kt_tuner, common: dict, epochs: int, verbose, callbacks) -> SearchResult:
    """Run trials until the chief says stop (the chief writes the table)."""
    kt_tuner.search(epochs=epochs, verbose=2 if verbose in (1, "auto") else verbose,
                    callbacks=callbacks)
    return SearchResult(rows=[], **_no_best(), tuner_id=kt_tuner.tuner_id, **common,
                        worker_trials=list(getattr(kt_tuner, "trials_run", [])))


def _set_up(role: str, args: dict) -> tuple[Any, dict, dict]:
    """Check the model, data, objective and space; claim the project folder; make the
    tuner. Returns the tuner, the `SearchResult` fields known before any trial, and
    what was searched (for best_hyperparameters.json)."""
    spec = get_spec(args["model_name"])
    plan = plan_data(spec, args["dataset"], args["overrides"], args["data_options"])
    objective = _check_objective(spec, args["objective"])
    hypermodel = ZooHyperModel(spec, plan, batch_size=args["batch_size"], seed=args["seed"])
    hypermodel.check_data()
    fixed_hp = check_search_space(hypermodel, args["overrides"], args["fixed"])

    tuner = args["tuner"]
    what = {"model": spec.name, "dataset": plan.dataset, "tuner": tuner,
            "objective": _objective_name(objective)}
    settings = _settings({
        **what, "epochs": args["epochs"], "batch_size": args["batch_size"], "seed": args["seed"],
        "builder_args": plan.builder_args, "data_options": plan.data_options,
        "fixed": dict(args["fixed"] or {}),
        # Only when set, so that projects written before these options still resume.
        **{k: args[k] for k in ("early_stopping", "reduce_lr_on_plateau") if args[k]},
        # Own data may change under its path: other data is another search (as in a run).
        **({"data": plan.info.signature()}
           if pipelines.get_source(plan.info.source).own else {}),
    })
    if args["project_name"]:
        directory, project_name = Path(args["directory"]), args["project_name"]
    else:  # the first version_N holding these settings, else a new one
        group = Path(args["directory"]) / f"{spec.name}-{safe_folder_name(plan.dataset)}-{tuner}"
        version = versioned_folder(group, lambda folder: _read_settings(folder) == settings)
        directory, project_name = group, version.name
    project_dir = directory / project_name
    if role != "worker":  # a worker reads no state: it asks the chief
        _check_resumable(project_dir)
    _claim_project(project_dir, settings)
    if role == "worker":
        # Bounded: a call the chief does not answer in time raises (Keras Tuner waits an hour).
        from keras_tuner.src.distribute import oracle_client

        oracle_client.TIMEOUT = distributed.rpc_timeout()
    kt_tuner = make_tuner(
        tuner, hypermodel, objective=objective, max_trials=args["max_trials"],
        epochs=args["epochs"], seed=args["seed"], hyperparameters=fixed_hp, directory=directory,
        project_name=project_name,
        max_consecutive_failed_trials=args["max_consecutive_failed_trials"],
    )
    common = dict(model=spec.name, dataset=plan.dataset, tuner_name=tuner,
                  objective=_objective_name(objective), project_dir=project_dir,
                  results_csv=project_dir / RESULTS_CSV, results_json=project_dir / RESULTS_JSON,
                  tuner=kt_tuner, hypermodel=hypermodel, epochs=args["epochs"],
                  seed=args["seed"], overrides=dict(args["overrides"] or {}),
                  data_options=dict(args["data_options"] or {}))
    return kt_tuner, common, what


def _check_arguments(tuner, *, seed, workers, timeout, project_name, counts: dict) -> str:
    """Refuse bad arguments before anything is read or written; returns `distributed.role()`."""
    if tuner not in TUNERS:
        raise ValueError(
            f"Unknown tuner {tuner!r}. Expected one of: {', '.join(sorted(TUNERS))}."
        )
    for arg, value in counts.items():
        check_positive_int(arg, value)
    check_positive_int("seed", seed, minimum=0)
    if workers is not None:
        check_positive_int("workers", workers)
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(
            f"`timeout` must be a number of seconds > 0. Received: timeout={timeout!r}"
        )
    if project_name is not None:
        check_folder_name("project_name", project_name)
    role = distributed.role()
    if workers is not None and role != "single":
        raise ValueError(
            f"`workers` starts a chief and local workers; this process is already the "
            f"{role} of a distributed search (KERASTUNER_TUNER_ID="
            f"{os.environ['KERASTUNER_TUNER_ID']!r}). Received: workers={workers!r}"
        )
    return role


def _trial_callbacks(kt_tuner, callbacks, plateau: dict) -> list:
    """Every trial's callbacks: the caller's first (so a value they log can be monitored),
    then early stopping and rate reduction on the objective, in its direction."""
    objective = kt_tuner.oracle.objective
    return [*(callbacks or []), *plateau_callbacks(_objective_name(objective),
                                                   mode=objective.direction, **plateau)]


def _check_single_process(role: str, workers, max_time, callbacks, plateau: dict) -> None:
    """Refuse a bad patience, and `max_time` (and `callbacks`) where trials run in other
    processes."""
    plateau_callbacks("val_loss", **plateau)
    if max_time is not None:
        check_finite_number("max_time", max_time)
        if workers is not None or role != "single":
            raise ValueError(
                "`max_time` is not supported by a distributed search: its trials run in "
                "worker processes that the chief cannot hold back between trials; use "
                f"`timeout`, which stops the workers. Received: max_time={max_time!r}")
    if callbacks and workers is not None:
        raise ValueError(
            "`callbacks` cannot reach the worker processes of a distributed search (they "
            "receive their arguments as JSON); use early_stopping or reduce_lr_on_plateau, "
            "or search in one process.")


def _run_search(kt_tuner, role: str, *, epochs, verbose, workers, timeout, search_args,
                max_time, max_consecutive_failed_trials, callbacks
                ) -> tuple[list[dict], dict | None]:
    """Run the trials (one process, within `max_time`) or serve them (the chief, whose
    local workers get `search_args` in this project); write the results table.

    Returns:
        The table's rows and, for a chief, what `distributed.run_chief` ran.

    Raises:
        SearchFailedError: when no trial completed (the table is written first).
    """
    project_dir = Path(kt_tuner.project_dir)
    search_args = {**search_args, "directory": str(Path(kt_tuner.directory).resolve()),
                   "project_name": kt_tuner.project_name}
    launch = stopped = None
    try:
        if role == "single":
            kt_tuner.budget = TimeBudget(project_dir, max_time)
            kt_tuner.search(epochs=epochs, verbose=verbose, callbacks=callbacks)
        else:  # the chief: serve the oracle (Keras Tuner's chief mode) until the search ends
            kt_tuner.oracle.verbose = verbose
            kt_tuner.save()
            if role == "launcher":
                launch = distributed.run_chief(kt_tuner, workers=workers, timeout=timeout,
                                               search_args=search_args)
            else:
                launch = distributed.run_chief(
                    kt_tuner, host=os.environ["KERASTUNER_ORACLE_IP"],
                    port=int(os.environ["KERASTUNER_ORACLE_PORT"]), timeout=timeout,
                )
    except RuntimeError as e:
        if "consecutive failures" not in str(e):
            raise
        stopped = e
    finally:
        rows = trial_rows(kt_tuner)
        write_table(rows, project_dir)
    if stopped is not None or (rows and all(r["status"] != "COMPLETED" for r in rows)):
        raise _failed(rows, project_dir, stopped and max_consecutive_failed_trials) from stopped
    return rows, launch


def _write_best(kt_tuner, hypermodel, project_dir: Path, what: dict) -> dict:
    """Write `best_hyperparameters.json` for the best completed trial; return the
    `SearchResult` fields about it (all None when no trial completed)."""
    trial = best_trial(kt_tuner)
    if trial is None:
        return _no_best()
    values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
    builder_args = hypermodel.builder_args(trial.hyperparameters.copy())
    path = project_dir / BEST_JSON
    write_json(path, {**what, "trial_id": trial.trial_id, "score": trial.score,
                      "hyperparameters": values, "builder_args": builder_args})
    return dict(best_trial_id=trial.trial_id, best_score=trial.score, best_hyperparameters=values,
                best_builder_args=builder_args, best_path=path)


def _budget_fields(budget, trials: int) -> dict:
    """The `SearchResult` fields about the time budget (None without one: a chief)."""
    if budget is None:
        return {}
    return dict(stop_reason=budget.reason(trials), seconds_spent=round(budget.seconds_spent(), 3))


def _no_best() -> dict:
    """The `SearchResult` fields about the best trial when there is none."""
    return dict(best_trial_id=None, best_score=None, best_hyperparameters=None,
                best_builder_args=None, best_path=None)


def _objective_name(objective) -> str:
    return objective.name if isinstance(objective, keras_tuner.Objective) else str(objective)


def _check_objective(spec: ModelSpec, objective):
    """The objective, defaulting to the spec's monitor; a string must be a logged metric."""
    if objective is None:
        if spec.monitor != "val_loss":
            # The spec's monitor is minimized by definition; Keras Tuner cannot infer
            # the direction of a name it does not know (e.g. "val_mmd").
            return keras_tuner.Objective(spec.monitor, direction="min")
        objective = spec.monitor
    task = get_task(spec)
    if isinstance(objective, str) and task.loss_for(spec) is not None:
        # Models compiled with a Keras loss log exactly these names.
        logged = ["loss", *task.metrics_for(spec)]
        accepted = logged + [f"val_{m}" for m in logged]
        if objective not in accepted:
            raise ValueError(
                f"Unknown objective {objective!r} for {spec.name!r}. "
                f"Expected one of: {', '.join(accepted)}."
            )
    return objective


def _failed(rows: list[dict], project_dir: Path, in_a_row: int | None) -> SearchFailedError:
    """The one-line error of a search in which no trial completed."""
    errors = [r["error"] for r in rows if r.get("error")]
    last = errors[-1].rstrip(".") if errors else "unknown"
    what = (f"The search stopped: {in_a_row} trial(s) failed in a row" if in_a_row
            else f"All {len(rows)} trial(s) of the search failed")
    return SearchFailedError(
        f"{what}; the last error: {last}. See the error column of {project_dir / RESULTS_CSV}."
    )


def _check_resumable(project_dir: Path) -> None:
    """Refuse, naming the file, to resume a project whose Keras Tuner state is gone or damaged.

    Keras Tuner reloads a project holding `tuner0.json` and then needs
    `oracle.json`: without it, or with a file cut short, it fails with a
    traceback; and a project holding trials but neither file would be started
    over, its trial folders overwritten.
    """
    tuner_file = project_dir / TUNER_JSON
    if not tuner_file.exists() and not any(project_dir.glob("trial_*")):
        return  # a new project (or one stopped before its first trial)
    for path, required in ((project_dir / ORACLE_JSON, True), (tuner_file, False)):
        problem = _state_problem(path, required)
        if problem is not None:
            raise ValueError(
                f"Cannot resume the search in {project_dir}: {path} {problem}. "
                f"Delete the folder {project_dir} to start the search over."
            )


def _state_problem(path: Path, required: bool) -> str | None:
    """What is wrong with a Keras Tuner state file, or None."""
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return "is missing" if required else None
    except (OSError, ValueError):
        state = None
    return None if isinstance(state, dict) else "is not a JSON object (damaged or cut short)"


def _settings(settings: dict) -> dict:
    """The settings as search.json holds them (tuples as lists)."""
    return json.loads(json.dumps(settings, default=str))


def _read_settings(project_dir: Path) -> dict | None:
    """The settings a project folder holds (None: none, or unreadable)."""
    try:
        return json.loads((project_dir / SETTINGS_JSON).read_text())
    except (OSError, ValueError):
        return None


def _claim_project(project_dir: Path, settings: dict) -> None:
    """Record the settings in a new project; refuse to resume one with others."""
    path = project_dir / SETTINGS_JSON
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != settings:
            changed = sorted(k for k in settings.keys() | previous.keys()
                             if previous.get(k) != settings.get(k))
            raise ValueError(
                f"Project folder {project_dir} holds a search with other settings (differs "
                f"in: {', '.join(changed)}). Use another project_name, or delete that folder."
            )
        return
    project_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, settings)


def worker_main(argv: list[str] | None = None) -> int:
    """A local worker's main: runs `tuning.search(**<search_args.json>)` (started by the chief)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: worker_main SEARCH_ARGS_JSON", file=sys.stderr)
        return 2
    distributed.watch_parent()
    path = Path(argv[0])
    try:
        search_args = json.loads(path.read_text())
        if not isinstance(search_args, dict):
            raise ValueError(type(search_args).__name__)
        search_args = distributed.decode_args(search_args)
    except (OSError, ValueError, TypeError):  # a pickle is not UTF-8, let alone JSON
        print(f"worker_main: error: {path} does not hold the JSON search arguments a chief "
              f"writes ({distributed.ARGS_FILE}).", file=sys.stderr)
        return 2
    result = search(**search_args)
    print(json.dumps({"tuner_id": result.tuner_id, "trials": result.worker_trials}))
    return 0
