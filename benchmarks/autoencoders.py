"""Autoencoder figures on the built-in digits (8x8), offline.

1. Hidden units with and without sparsity: `sparse_autoencoder` (49 sigmoid
   units, weight decay 3e-3) trained with the KL sparsity penalty (rho 0.05,
   beta 3) and with beta = 0; each unit's input weights as a tile grid
   (what `zoo tiles RUN` draws). Reported: mean hidden activation on the test
   split, the fraction of activations below 0.1, reconstruction MSE.
2. 2-D codes: `autoencoder` with a deep encoder (256-128-64-2, linear code
   units, as in Hinton & Salakhutdinov 2006) against PCA with 2 components,
   one scatter plot coloured by class (what `zoo codes RUN` draws), with the
   reconstruction MSE and the 5-NN accuracy in the 2-D codes on the test split.

Writes the PNGs to --out (default docs/autoencoders), prints JSON, then a
table. Default budget (100 epochs each, batch 32, Adam 1e-3): about 5 minutes
on 2 CPU cores.

    python benchmarks/autoencoders.py [--epochs 100] [--out docs/autoencoders]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo.models import autoencoders as ae  # noqa: E402
from zoo.runtime.artifacts import load_autoencoder  # noqa: E402
from zoo.tasks import autoencoding  # noqa: E402


def train(name, overrides, epochs, seed, work, tag):
    start = time.perf_counter()
    result = zoo.train(name, "digits", epochs=epochs, seed=seed, overrides=overrides,
                       run_dir=os.path.join(work, tag), verbose=0)
    model = load_autoencoder(result.run_dir)  # the best epoch by val_loss
    return model, result.plan, time.perf_counter() - start


def hidden_units(beta, epochs, seed, work, out):
    tag = "sparse" if beta else "no_sparsity"
    model, plan, seconds = train("sparse_autoencoder", {"beta": beta}, epochs, seed, work, tag)
    x, _ = autoencoding.split_arrays(plan, plan.test_split)
    h = np.asarray(ae.encoder(model).predict(x, verbose=0))  # (N, 49) sigmoid activations
    x_hat = np.asarray(model.predict(x, verbose=0))
    path, grid = autoencoding.save_hidden_units(model, os.path.join(out, f"units_{tag}.png"), scale=6)
    return {"model": "sparse_autoencoder", "beta": beta, "epochs": epochs,
            "seconds": round(seconds, 1), "mean_activation": float(h.mean()),
            "fraction_below_0.1": float(np.mean(h < 0.1)),
            "reconstruction_mse": float(np.mean((x_hat - x) ** 2)), "png": str(path),
            "grid": grid}


def codes(epochs, seed, work, out):
    overrides = {"code_size": 2, "units": (256, 128, 64)}
    model, plan, seconds = train("autoencoder", overrides, epochs, seed, work, "codes")
    path = os.path.join(out, "codes_autoencoder_vs_pca.png")
    figures = autoencoding.compare_codes_with_pca(model, plan, path)
    return {"model": "autoencoder", "builder_args": {"code_size": 2, "units": [256, 128, 64]},
            "epochs": epochs, "seconds": round(seconds, 1), "png": path, **figures}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/autoencoders")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        units = [hidden_units(beta, args.epochs, args.seed, work, args.out) for beta in (3.0, 0.0)]
        plot = codes(args.epochs, args.seed, work, args.out)
    print(json.dumps({"hidden_units": units, "codes": plot}, indent=2))
    print(f"\n{'sparse_autoencoder':<20} {'mean activation':>15} {'< 0.1':>7} {'recon. MSE':>11}")
    for row in units:
        print(f"{'beta=' + str(row['beta']):<20} {row['mean_activation']:>15.3f} "
              f"{row['fraction_below_0.1']:>7.2f} {row['reconstruction_mse']:>11.4f}")
    print()
    print(autoencoding.code_figures_table(plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
