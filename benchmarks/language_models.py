"""Language-model results on a fixed CPU budget: nats per character and a sample.

Character level on tiny Shakespeare: `lstm_lm` and `transformer_lm`, each
trained by `zoo.train` until its wall-clock budget runs out (the epoch in
progress is finished), best checkpoint kept; validation loss in nats per
character (the loss is the mean negative log-likelihood, natural log) and a
generated sample. (Tied vs untied `lstm_lm` perplexity on words, trained
until early stopping, is the reproduction `zoo reproduce weight_tying`.)

    python benchmarks/language_models.py --minutes 15

Prints JSON and a table; `--out` writes the JSON too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import zoo  # noqa: E402
from zoo.runtime.generate import generate  # noqa: E402

SHAKESPEARE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tiny_shakespeare"

# (builder overrides, seq_len, batch size, learning rate) per character model.
CHAR_MODELS = {
    "lstm_lm": ({"embedding_dim": 256, "units": 256, "layers": 2, "dropout_rate": 0.2},
                100, 64, 2e-3),
    "transformer_lm": ({"d_model": 128, "heads": 4, "layers": 4, "dropout_rate": 0.1},
                       64, 64, 1e-3),
}


class Budget(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that ends past `seconds`."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.start = time.perf_counter()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def run(model, dataset, overrides, data_options, minutes, batch_size, learning_rate, run_dir):
    budget = Budget(minutes * 60)
    result = zoo.train(model, dataset, epochs=1000, batch_size=batch_size,
                       learning_rate=learning_rate, overrides=overrides,
                       data_options=data_options, run_dir=run_dir, callbacks=[budget], verbose=2)
    best = min(row["val_loss"] for row in result.history)
    return {
        "model": model,
        "params": result.model.count_params(),
        "epochs": budget.epochs,
        "seconds": round(time.perf_counter() - budget.start, 1),
        "val_loss": round(best, 4),
        "run_dir": str(run_dir),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="budget per char model")
    parser.add_argument("--manual-dir", default=str(SHAKESPEARE))
    parser.add_argument("--runs", default=None, help="run folders (default: a temporary folder)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    root = Path(args.runs or tempfile.mkdtemp(prefix="lm-bench-"))
    report = {"cpu_count": os.cpu_count(), "char": []}

    def save():
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=2) + "\n")

    for name, (size, seq_len, batch, rate) in CHAR_MODELS.items():
        char_data = {"level": "char", "seq_len": seq_len, "manual_dir": args.manual_dir}
        row = run(name, "tiny_shakespeare", size, char_data, args.minutes, batch, rate,
                  root / f"{name}-char")
        row["nats_per_char"] = row["val_loss"]
        row["seq_len"] = seq_len
        row["sample"] = generate(row["run_dir"], "ROMEO:", length=300, temperature=0.8, seed=0)
        report["char"].append(row)
        save()

    print(json.dumps(report, indent=2))
    print(f"\n{'experiment':<28}{'params':>12}{'epochs':>8}{'seconds':>9}  result")
    for row in report["char"]:
        print(f"{row['model'] + ' (char)':<28}{row['params']:>12,}{row['epochs']:>8}"
              f"{row['seconds']:>9}  {row['nats_per_char']:.3f} nats/char")
    for row in report["char"]:
        print(f"\n--- {row['model']} sample ---\n{row['sample']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
