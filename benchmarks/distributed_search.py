"""Distributed search benchmark: the same Keras Tuner search with 1 worker and with 2 workers.

The search: `mlp` on `digits`, random tuner, `--trials` trials of `--epochs`
epochs each (the oracle is seeded, so both runs try the same hyperparameters
in the same order). Each run is `tuning.search(..., workers=N)`: this process
is the chief, N worker processes run the trials over loopback gRPC. The
wall time includes starting the workers (importing TensorFlow). Optionally
(`--single`) the same search in one process, without Keras Tuner's chief.

The speed-up ceiling is the number of free cores: on a 2-core machine at most
~2x, less when other processes run (the load average before and after each
run is reported). TensorFlow uses every core in each process by default, so
N workers oversubscribe the cores; `--threads 1` gives each process one
thread and measures the parallelism of the processes alone. Prints JSON,
then a table. Default budget: about 1.5 minutes on 2 CPU cores.

    python benchmarks/distributed_search.py [--trials 6] [--epochs 10] [--workers 1 2]
                                            [--single] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "--threads" in sys.argv:  # before TensorFlow starts; the workers inherit it
    _threads = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = _threads
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tuning  # noqa: E402
from tuning.tuners import read_runs  # noqa: E402


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(workers, trials, epochs, seed, work) -> dict:
    load_before = load()
    start = time.perf_counter()
    result = tuning.search(
        "mlp", "digits", tuner="random", max_trials=trials, epochs=epochs, seed=seed,
        directory=os.path.join(work, f"workers_{workers or 0}"), verbose=0,
        workers=workers, timeout=1800 if workers else None,
    )
    seconds = time.perf_counter() - start
    per_worker = {}
    for trial_dir in sorted(result.project_dir.glob("trial_*")):
        for record in read_runs(trial_dir):
            if record["event"] == "end":
                per_worker[record["tuner_id"]] = per_worker.get(record["tuner_id"], 0) + 1
    return {
        "workers": workers or 0,
        "seconds": round(seconds, 2),
        "trial_seconds_sum": round(sum(r["seconds"] for r in result.rows), 2),
        "completed": sum(r["status"] == "COMPLETED" for r in result.rows),
        "trials_per_worker": per_worker,
        "choices": [[r["trial_id"], *(r[k] for k in ("depth", "width", "learning_rate"))]
                    for r in result.rows],
        "best_score": result.best_score,
        "load_before": load_before,
        "load_after": load(),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--single", action="store_true", help="also run in one process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="TensorFlow threads per process (intra- "
                        "and inter-op; default: TensorFlow's, one per core)")
    args = parser.parse_args(argv)

    runs = []
    with tempfile.TemporaryDirectory() as work:
        for workers in ([None] if args.single else []) + args.workers:
            runs.append(run(workers, args.trials, args.epochs, args.seed, work))
    same = all(r["choices"] == runs[0]["choices"] for r in runs)
    base = next((r for r in runs if r["workers"] == 1), runs[0])
    for r in runs:
        r["speedup_vs_1_worker"] = round(base["seconds"] / r["seconds"], 2)
    report = {
        "search": {"model": "mlp", "dataset": "digits", "tuner": "random",
                   "trials": args.trials, "epochs": args.epochs, "seed": args.seed},
        "cpus": os.cpu_count(),
        "tf_threads_per_process": args.threads,
        "same_trials_in_every_run": same,
        "runs": runs,
    }
    print(json.dumps(report, indent=2))
    print()
    print(f"{'workers':>7} {'seconds':>8} {'speedup':>8} {'trial s sum':>12} {'done':>5}  "
          f"{'per worker':<24} load before -> after")
    for r in runs:
        label = str(r["workers"]) if r["workers"] else "1 proc"
        per = ", ".join(f"{k}: {v}" for k, v in sorted(r["trials_per_worker"].items()))
        print(f"{label:>7} {r['seconds']:>8} {r['speedup_vs_1_worker']:>7}x "
              f"{r['trial_seconds_sum']:>12} {r['completed']:>5}  {per:<24} "
              f"{r['load_before']} -> {r['load_after']}")
    return report


if __name__ == "__main__":
    main()
