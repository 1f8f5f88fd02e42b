"""Degradation: a deeper plain network trains to a higher training loss than a shallower one,
while with residual connections the deeper network trains at least as well.

The CIFAR networks of He et al. (2016, section 4.2) at depths 20 and 56,
`resnet_cifar` with `residual=True` (option A shortcuts, as in the paper) and
the same layers without shortcuts (`residual=False`, the paper's "plain"
networks), trained by `zoo.train` with the paper's optimizer (SGD, momentum
0.9, learning rate 0.1) on the zoo's built-in `digits` (8x8 images, so the
three stages see 8, 4 and 2 pixels). The training loss is Keras' mean over
the last epoch. The paper trains 64k iterations on CIFAR-10; this budget is
40 (4 epochs of 10 batches of 128), the very start of its Fig. 6 curves.
"""

from __future__ import annotations

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.measure import history_values, new_figure, save_figure, train

KINDS = {"plain": False, "residual": True}
# The full run trains four networks (two of 56 layers) for 3 seeds: 24 CPU-minutes (23.6
# wall) on 2 cores, over twice the usual budget, for 40 iterations each. The quick depths
# (8 and 14) are below where degradation appears: there the deeper plain net trains faster.
BUDGET = Budget(quick={"shallow": 8, "deep": 14, "epochs": 1, "batch_size": 128},
                full={"shallow": 20, "deep": 56, "epochs": 4, "batch_size": 128})


def figure(results: list[dict], path) -> None:
    shallow, deep = results[0]["shallow"], results[0]["deep"]
    fig, axes = new_figure(2)
    for ax, kind in zip(axes, KINDS):
        for depth, style in ((shallow, "--"), (deep, "-")):
            for i, r in enumerate(results):
                curve = r[f"{kind}{depth}_loss_curve"]
                ax.plot(range(1, len(curve) + 1), curve, style,
                        color="tab:red" if depth == deep else "tab:blue", alpha=0.7,
                        label=f"{kind}-{depth}" if i == 0 else None)
        ax.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log",
               title=f"{kind} networks on digits ({len(results)} seeds)")
        ax.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="A plain 56-layer CIFAR network ends training with a higher training loss than a "
    "20-layer one (by 10% or more), while with residual connections the 56-layer network's "
    "training loss is no higher than the 20-layer one's.",
    source="He, Zhang, Ren & Sun 2016, Deep Residual Learning for Image Recognition, "
    "Fig. 1 and Fig. 6 (CIFAR-10, plain vs ResNet at 20 and 56 layers)",
    models=("resnet_cifar",),
    data="digits (built in): 1,258 training images of 8x8 pixels, 10 classes",
    budget=BUDGET,
    rule=(AtLeast("plain_ratio", 1.1), AtMost("residual_ratio", 1.0)),
    effect="plain_ratio",
    figure=figure,
)
def residual_connections(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    shallow, deep = budget["shallow"], budget["deep"]
    numbers = {"shallow": shallow, "deep": deep}
    for kind, residual in KINDS.items():
        for depth in (shallow, deep):
            result = train("resnet_cifar", "digits", work, seed, epochs=budget["epochs"],
                           batch_size=budget["batch_size"], optimizer="momentum",
                           learning_rate=0.1, overrides={"depth": depth, "residual": residual})
            curve = history_values(result, "loss")
            numbers[f"{kind}{depth}_loss_curve"] = curve
            numbers[f"{kind}{depth}_loss"] = curve[-1]
        numbers[f"{kind}_ratio"] = numbers[f"{kind}{deep}_loss"] / numbers[f"{kind}{shallow}_loss"]
    return numbers
