"""Sigmoid vs ReLU with depth: a deep sigmoid MLP stops learning, a ReLU one keeps learning.

The same `mlp` (width 64, Glorot-uniform weights, Adam at rate 0.003, batch 16) is
trained on the digits at 2, 5 and 10 hidden layers with each activation. Adam
rescales each parameter's step by its gradient's running size, which should if
anything rescue small gradients: the sigmoid net still stops learning. At
initialisation the gradient of the loss w.r.t. each layer's kernel is measured on
512 training images: back-propagation multiplies it by sigma'(z) <= 1/4 at every
sigmoid layer, so the first layers' gradients shrink geometrically with depth,
while a ReLU passes gradients through unchanged where it is active (Glorot &
Bengio 2010; Glorot, Bordes & Bengio 2011). `gradient_ratio` is the first hidden
layer's gradient norm over the last hidden layer's.
"""

from __future__ import annotations

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.claims._digits_mlp import (accuracy_curve, digits_arrays,
                                              initial_gradients_callback, train_mlp)
from zoo.reproduce.measure import new_figure, save_figure

ACTIVATIONS = ("sigmoid", "relu")
BUDGET = Budget(quick={"depths": [2, 10], "epochs": 4},  # lists: as the JSON record holds them
                full={"depths": [2, 5, 10], "epochs": 12})
WIDTH, OPTIMIZER, RATE, BATCH, GRADIENT_BATCH = 64, "adam", 0.003, 16, 512


def figure(results: list[dict], path) -> None:
    fig, (ax_grad, ax_acc, ax_curve) = new_figure(3)
    deepest = max(results[0]["depths"])
    for k, activation in enumerate(ACTIVATIONS):
        for i, r in enumerate(results):
            norms = r[f"{activation}_{deepest}_gradient_norms"][:-1]  # hidden layers only
            ax_grad.semilogy(range(1, len(norms) + 1), norms, "o-", color=f"C{k}", alpha=0.7,
                             label=activation if i == 0 else None)
            ax_acc.plot(r["depths"], [r[f"{activation}_{d}_accuracy"] for d in r["depths"]],
                        "o-", color=f"C{k}", alpha=0.7, label=activation if i == 0 else None)
            curve = r[f"{activation}_{deepest}_curve"]
            ax_curve.plot(range(1, len(curve) + 1), curve, color=f"C{k}", alpha=0.7,
                          label=f"{activation}, {deepest} layers" if i == 0 else None)
    ax_grad.set(xlabel="hidden layer (1 = next to the input)", ylabel="|dLoss/dW| at init",
                title=f"gradient norms at initialisation, {deepest} layers")
    ax_acc.set(xlabel="hidden layers", ylabel="validation accuracy", ylim=(0, 1.02),
               title=f"final accuracy against depth ({len(results)} seeds)")
    ax_curve.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1.02),
                 title=f"learning curves, {deepest} hidden layers")
    for ax in (ax_grad, ax_acc, ax_curve):
        ax.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="Trained the same way, a sigmoid MLP stops learning as depth grows (at 10 hidden "
    "layers its first layer's gradient is under 1/1000 of its last layer's, and it stays near "
    "chance) while a ReLU MLP keeps its gradients and learns at 2 and 10 layers alike.",
    source="Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward "
    "neural networks; Glorot, Bordes & Bengio 2011, Deep sparse rectifier neural networks",
    models=("mlp",),
    data="digits (built-in): 1,258 training and 180 validation 8x8 images",
    budget=BUDGET,
    rule=(AtLeast("sigmoid_2_accuracy", 0.8), AtMost("sigmoid_10_accuracy", 0.3),
          AtLeast("relu_10_accuracy", 0.8), AtMost("sigmoid_10_gradient_ratio", 1e-3),
          AtLeast("relu_10_gradient_ratio", 0.1)),
    effect="relu_10_accuracy_advantage",
    figure=figure,
)
def sigmoid_vs_relu_depth(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    x, y = digits_arrays("train")
    x, y = x[:GRADIENT_BATCH], y[:GRADIENT_BATCH]
    numbers = {"depths": list(budget["depths"])}
    for activation in ACTIVATIONS:
        for depth in budget["depths"]:
            norms = []
            result = train_mlp(work, seed, epochs=budget["epochs"], optimizer=OPTIMIZER,
                               learning_rate=RATE, batch_size=BATCH,
                               callbacks=[initial_gradients_callback(x, y, norms)],
                               depth=depth, width=WIDTH, activation=activation)
            key = f"{activation}_{depth}"
            numbers[f"{key}_curve"] = accuracy_curve(result)
            numbers[f"{key}_accuracy"] = numbers[f"{key}_curve"][-1]
            numbers[f"{key}_gradient_norms"] = norms[0]
            numbers[f"{key}_gradient_ratio"] = norms[0][0] / norms[0][depth - 1]
    numbers["relu_10_accuracy_advantage"] = (numbers["relu_10_accuracy"]
                                             - numbers["sigmoid_10_accuracy"])
    return numbers
