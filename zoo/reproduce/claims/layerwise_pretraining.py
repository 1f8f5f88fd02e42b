"""Greedy layer-wise pre-training helps a deep sigmoid network that plain training cannot fit.

The same `stacked_autoencoder` network (5 hidden sigmoid layers of 128 units,
softmax on top) is trained by `zoo.train` on `digits` from the same seed (the
same initial weights and batches), optimizer and epochs: once from its random
(Glorot-uniform) initialisation (`pretrain_epochs=0`), once after greedy
layer-wise autoencoder pre-training of every hidden layer (the spec's pretrain
hook, `pretrain_epochs` each). The pair runs with SGD + momentum (0.05) and with
Adam (0.001), the spec's learning rates. A callback measures the gradient norm of
each Dense kernel on one fixed batch of 256 training examples when fine-tuning
starts: from the random start the lowest layer gets about 1/1000 of the output
layer's gradient (vanishing gradients); after pre-training it does not. Accuracy
is measured on the test split.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, Budget, register_claim
from zoo.reproduce.measure import history_values, new_figure, save_figure, train

MODEL, DATA = "stacked_autoencoder", "digits"
INITS, OPTIMIZERS = ("random", "pretrained"), ("momentum", "adam")
STYLE = {"random": ("tab:red", "--"), "pretrained": ("tab:blue", "-")}
# The full budget is the former benchmarks/pretraining.py run as it was (4 runs of 30
# epochs a seed): about 3 CPU-minutes for the 3 seeds.
BUDGET = Budget(quick={"epochs": 2, "pretrain_epochs": 3, "depth": 5, "width": 128},
                full={"epochs": 30, "pretrain_epochs": 5, "depth": 5, "width": 128})


def _gradient_callback(x, y):
    import keras

    from zoo.models.stacked_autoencoder import layer_gradient_norms

    class GradientNorms(keras.callbacks.Callback):
        """Per-layer gradient norms on a fixed batch when fine-tuning starts (after
        `zoo.train` has run the pre-training hook)."""

        norms: dict = {}

        def on_train_begin(self, logs=None):
            self.norms = layer_gradient_norms(self.model, x, y)

    return GradientNorms()


def _fixed_batch(overrides, size=256):
    import zoo
    from zoo.runtime.plan import plan_data

    plan = plan_data(zoo.get_spec(MODEL), DATA, overrides)
    x, y = next(iter(plan.load(plan.train_split, size, shuffle=False)))
    return plan, np.asarray(x), np.asarray(y)


def one_run(init: str, optimizer: str, budget: dict, seed: int, work) -> dict:
    """Train the network from `init` with `optimizer`; its test accuracy, gradient norms
    at the start of fine-tuning and curves."""
    overrides = {"depth": budget["depth"], "width": budget["width"],
                 "pretrain_epochs": 0 if init == "random" else budget["pretrain_epochs"]}
    plan, x, y = _fixed_batch(overrides)
    norms = _gradient_callback(x, y)
    result = train(MODEL, DATA, work / f"{init}-{optimizer}", seed, epochs=budget["epochs"],
                   optimizer=optimizer, overrides=overrides, callbacks=[norms])
    split = plan.test_split or plan.validation_split
    accuracy = result.model.evaluate(plan.load(split, 256), verbose=0,
                                     return_dict=True)["accuracy"]
    return {"accuracy": float(accuracy), "norms": list(norms.norms.values()),
            "layers": [k.removeprefix(f"{MODEL}_") for k in norms.norms],
            "loss": history_values(result, "loss"),
            "val_accuracy": history_values(result, "val_accuracy")}


def figure(results: list[dict], path) -> None:
    fig, axes = new_figure(3, width=4.4, height=3.6)
    first = results[0]
    for col, optimizer in enumerate(OPTIMIZERS):
        for r in results:
            for init in INITS:
                color, line = STYLE[init]
                curve = r[f"{init}_{optimizer}_val_accuracy"]
                mean = np.mean([s[f"{init}_{optimizer}_accuracy"] for s in results])
                axes[col].plot(range(1, len(curve) + 1), curve, line, color=color, alpha=0.8,
                               label=f"{init}: mean test accuracy {mean:.3f}" if r is first
                               else None)
        axes[col].set(xlabel="fine-tuning epoch", ylabel="validation accuracy", ylim=(0, 1),
                      title=f"{optimizer}: every seed")
        axes[col].legend(fontsize=8, loc="lower right")
    layers = first["layers"]
    positions = np.arange(len(layers))
    for offset, init in zip((-0.2, 0.2), INITS):
        axes[2].bar(positions + offset, first[f"{init}_norms"], 0.4, color=STYLE[init][0],
                    label=init)
    axes[2].set_xticks(positions, layers, fontsize=7, rotation=30)
    axes[2].set(yscale="log", ylabel="|dL/dW| (L2 norm)",
                title=f"seed {first['seed']}: gradient per layer, fine-tuning start")
    axes[2].legend(fontsize=8)
    fig.suptitle("Deep sigmoid MLP on digits: random initialisation vs greedy layer-wise "
                 "pre-training", fontsize=10)
    save_figure(fig, path)


@register_claim(
    sentence="Greedy layer-wise autoencoder pre-training lets a deep (5 x 128) sigmoid network "
    "train on digits: SGD with momentum from a random start stays at chance while the "
    "pre-trained network passes 0.85, Adam gains too, and the lowest layer's gradient at the "
    "start of fine-tuning is over 10 times larger.",
    source="Hinton & Salakhutdinov 2006; Bengio et al. 2007, Greedy layer-wise training of "
    "deep networks",
    models=(MODEL,),
    data="digits (sklearn 8x8, 1,797 images): its train, validation and test splits",
    budget=BUDGET,
    rule=(AtLeast("gain_momentum", 0.3), AtLeast("gain_adam", 0.05),
          AtLeast("pretrained_momentum_accuracy", 0.85), AtLeast("first_layer_gradient_ratio", 10)),
    effect="gain_momentum",
    figure=figure,
)
def layerwise_pretraining(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    numbers, report = {}, ["optimizer  init        test accuracy  gradient norm, bottom -> top"]
    for optimizer in OPTIMIZERS:
        for init in INITS:
            run = one_run(init, optimizer, budget, seed, work)
            numbers[f"{init}_{optimizer}_accuracy"] = run["accuracy"]
            numbers[f"{init}_{optimizer}_val_accuracy"] = run["val_accuracy"]
            numbers[f"{init}_{optimizer}_loss"] = run["loss"]
            numbers[f"{init}_norms"], numbers["layers"] = run["norms"], run["layers"]
            report.append(f"{optimizer:<10} {init:<11} {run['accuracy']:>13.4f}  "
                          + " ".join(f"{v:.1e}" for v in run["norms"]))
        numbers[f"gain_{optimizer}"] = (numbers[f"pretrained_{optimizer}_accuracy"]
                                        - numbers[f"random_{optimizer}_accuracy"])
    numbers["first_layer_gradient_ratio"] = (numbers["pretrained_norms"][0]
                                             / numbers["random_norms"][0])
    return {**numbers, "report": report}
