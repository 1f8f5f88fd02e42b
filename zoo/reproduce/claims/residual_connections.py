"""Degradation: a deeper plain network trains to a higher training loss than a shallower one,
while with residual connections the deeper network trains at least as well.

The CIFAR networks of He et al. (2016, section 4.2) at depths 20 and 56,
`resnet_cifar` with `residual=True` (option A shortcuts, as in the paper) and
the same layers without shortcuts (`residual=False`, the paper's "plain"
networks), trained by `zoo.train` with SGD and momentum 0.9 on the zoo's
built-in `digits` at their own 8x8 pixels (so the three stages see 8, 4 and 2
pixels). The learning rate is 0.01, the rate the paper warms its 110-layer net
up with because 0.1 "is slightly too large to start converging": at 0.1 the
residual 56-layer net here starts at a loss of 8.5 and is still above 1.2 after
15 epochs. The training loss is Keras' mean over the last epoch. The paper
trains 64k iterations on CIFAR-10; the full budget here is 150 (15 epochs of
10 batches of 128), by which the shallower nets have nearly memorised digits.
"""

from __future__ import annotations

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.measure import history_values, new_figure, save_figure, train

KINDS = {"plain": False, "residual": True}
# The full run trains four networks (two of 56 layers) for 3 seeds: about 7 minutes on 2
# cores. The quick one trains depths 8 and 20 for 2 epochs; most of its time goes to tracing
# each network's training and validation steps.
BUDGET = Budget(quick={"shallow": 8, "deep": 20, "epochs": 2, "batch_size": 128,
                       "learning_rate": 0.01, "image_size": 8},
                full={"shallow": 20, "deep": 56, "epochs": 15, "batch_size": 128,
                      "learning_rate": 0.01, "image_size": 8})


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
                           learning_rate=budget["learning_rate"],
                           data_options={"image_size": (budget["image_size"],) * 2},
                           overrides={"depth": depth, "residual": residual})
            curve = history_values(result, "loss")
            numbers[f"{kind}{depth}_loss_curve"] = curve
            numbers[f"{kind}{depth}_loss"] = curve[-1]
        numbers[f"{kind}_ratio"] = numbers[f"{kind}{deep}_loss"] / numbers[f"{kind}{shallow}_loss"]
    return numbers
