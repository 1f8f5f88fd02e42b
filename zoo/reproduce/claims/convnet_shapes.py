"""ConvNet shapes: "same" padding keeps the spatial size, 2x2 pooling halves it, and the
registered LeNet-5, AlexNet and GoogLeNet have the parameter counts their papers give.

Nothing is trained: the models are built from the registry (`zoo.build`) and
read layer by layer. The papers' figures are rounded ("about 60,000", "60
million", "about 6.8M"), so each count may differ from its figure by up to 10%.
"""

from __future__ import annotations

from zoo.reproduce.claim import AtLeast, AtMost, Budget, Within, register_claim
from zoo.reproduce.measure import new_figure, save_figure

SHAPE_MODELS = ("convnet", "lenet5")
# model -> (the paper's parameter count, where it is stated)
PAPER_COUNTS = {
    "lenet5": (60_000, "LeCun et al. 1998: about 60,000 trainable parameters"),
    "alexnet": (60_000_000, "Krizhevsky et al. 2012, abstract: '60 million parameters'"),
    "googlenet": (6_800_000, "Szegedy et al. 2014, Table 1: its params column, about 6.8M"),
}
BUDGET = Budget(quick={"models_built": 4}, full={"models_built": 4})


def _spatial(shape) -> tuple:
    return tuple(shape[1:-1])  # (batch, *spatial, channels)


def check_layer(layer) -> str | None:
    """"same" or "pool" for a layer whose spatial rule applies, after checking it; None
    otherwise. Raises ValueError when the rule is broken."""
    kind = type(layer).__name__
    if kind.startswith("Conv") and getattr(layer, "padding", None) == "same" \
            and set(layer.strides) == {1}:
        rule, expected = "same", _spatial(layer.input.shape)
    elif kind.endswith("Pooling2D") and tuple(layer.pool_size) == (2, 2) \
            and tuple(layer.strides) == (2, 2):
        rule, expected = "pool", tuple(s // 2 for s in _spatial(layer.input.shape))
    else:
        return None
    if _spatial(layer.output.shape) != expected:
        raise ValueError(f"{layer.name}: {_spatial(layer.output.shape)} != {expected}")
    return rule


def shape_table(model) -> tuple[list[str], dict]:
    """The layer-by-layer table of `model` and the counts of checked and broken rules."""
    counts = {"same_convs_checked": 0, "pools_checked": 0, "shape_violations": 0}
    lines = [f"{model.name}: layer, type, output shape, parameters, rule"]
    for layer in model.layers:
        try:
            rule = check_layer(layer)
            note = {"same": "same padding: size kept", "pool": "pooling: size halved"}.get(rule, "")
            if rule:
                counts["same_convs_checked" if rule == "same" else "pools_checked"] += 1
        except ValueError as exc:
            counts["shape_violations"] += 1
            note = f"BROKEN: {exc}"
        shape = "x".join(str(s) for s in layer.output.shape[1:])
        lines.append(f"  {layer.name:<24} {type(layer).__name__:<18} {shape:<12} "
                     f"{layer.count_params():>9,}  {note}".rstrip())
    return lines, counts


def figure(results: list[dict], path) -> None:
    fig, (ax_table, ax_counts) = new_figure(2, width=5.5, height=4.2)
    ax_table.axis("off")
    ax_table.text(0, 1, "\n".join(results[0]["table"]), va="top", family="monospace",
                  fontsize=6, transform=ax_table.transAxes)
    names = list(PAPER_COUNTS)
    ratios = [results[0][f"{name}_ratio"] for name in names]
    ax_counts.bar(names, ratios, color="tab:blue")
    ax_counts.axhspan(0.9, 1.1, color="tab:green", alpha=0.15, label="within 10% of the paper")
    ax_counts.axhline(1.0, color="k", linewidth=1)
    for i, name in enumerate(names):
        ax_counts.text(i, ratios[i] + 0.01, f"{results[0][f'{name}_params']:,}", ha="center",
                       fontsize=8)
    ax_counts.set(ylabel="registry count / paper's figure", ylim=(0.8, 1.2),
                  title="parameter counts")
    ax_counts.legend(fontsize=8, loc="lower right")
    save_figure(fig, path)


@register_claim(
    sentence="A 'same'-padded stride-1 convolution keeps the spatial size and 2x2 pooling "
    "halves it, layer by layer in convnet and lenet5, and LeNet-5, AlexNet and GoogLeNet "
    "have about 60k, 60M and 6.8M parameters.",
    source="Convolution arithmetic (Dumoulin & Visin 2016); LeCun et al. 1998; Krizhevsky "
    "et al. 2012; Szegedy et al. 2014",
    models=(*SHAPE_MODELS, "alexnet", "googlenet"),
    data="none: models built from the registry with their default arguments",
    budget=BUDGET,
    rule=(AtMost("shape_violations", 0), AtLeast("same_convs_checked", 2),
          AtLeast("pools_checked", 4), *(Within(f"{n}_ratio", 1.0, 0.1) for n in PAPER_COUNTS)),
    effect="max_param_deviation",
    figure=figure,
)
def convnet_shapes(seed: int, quick: bool, work) -> dict:
    import zoo

    table, numbers = [], {"same_convs_checked": 0, "pools_checked": 0, "shape_violations": 0}
    for name in SHAPE_MODELS:
        lines, counts = shape_table(zoo.build(name))
        table += lines
        numbers = {k: numbers[k] + counts[k] for k in numbers}
    table.append("parameters: registry vs paper")
    for name, (paper, where) in PAPER_COUNTS.items():
        count = zoo.build(name).count_params()
        numbers[f"{name}_params"], numbers[f"{name}_ratio"] = count, count / paper
        table += [f"  {name:<10} {count:>11,} vs {paper:>11,} ({count / paper - 1:+.1%})",
                  f"    {where}"]
    numbers["max_param_deviation"] = max(abs(numbers[f"{n}_ratio"] - 1) for n in PAPER_COUNTS)
    return {**numbers, "table": table, "report": table}
