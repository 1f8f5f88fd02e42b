"""The perceptron learns AND, OR and NAND but never XOR; a two-layer network fits XOR.

`perceptron` (one threshold unit, zero start, the perceptron rule through SGD with
batch 1) is trained on each gate's truth table; its error is measured on the
whole table after every epoch (the validation split is the table). No weights
separate XOR, so its error can never fall below 1/4 (Minsky & Papert 1969);
`xor_mlp` (4 tanh hidden units) is trained on XOR for comparison.
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, AtMost, Budget, register_claim
from zoo.reproduce.measure import new_figure, save_figure, train

GATES = ("and", "or", "nand", "xor")
TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
BUDGET = Budget(quick={"perceptron_epochs": 10, "mlp_epochs": 50},
                full={"perceptron_epochs": 30, "mlp_epochs": 150})


def table_errors(result) -> list[float]:
    """The error on the whole truth table after each epoch (1 - validation accuracy)."""
    return [1.0 - float(value) for row in result.history for key, value in row.items()
            if key.startswith("val_") and key.endswith("accuracy")]


def final_error(result, gate: str) -> float:
    """The trained model's error on the truth table, its output thresholded at 0.5."""
    from pipelines.builtin import GATES as TARGETS

    preprocess = result.plan.preprocessor()
    x = TABLE if preprocess is None else np.asarray(preprocess(TABLE))
    said = np.asarray(result.model(x, training=False)).ravel() > 0.5
    return float(np.mean(said != np.array(TARGETS[gate], dtype=bool)))


def figure(results: list[dict], path) -> None:
    fig, (ax_gates, ax_xor) = new_figure(2)
    for gate in GATES:
        for i, r in enumerate(results):
            ax_gates.plot(range(1, len(r[f"{gate}_curve"]) + 1), r[f"{gate}_curve"],
                          color=f"C{GATES.index(gate)}", alpha=0.7,
                          label=f"perceptron, {gate.upper()}" if i == 0 else None)
    ax_gates.axhline(0.25, color="k", linestyle="--", linewidth=1, label="1/4")
    ax_gates.set(xlabel="epoch", ylabel="error on the truth table", ylim=(-0.05, 1.05),
                 title=f"perceptron ({len(results)} seeds)")
    ax_gates.legend(fontsize=8)
    for r in results:
        ax_xor.plot(range(1, len(r["xor_mlp_curve"]) + 1), r["xor_mlp_curve"],
                    label=f"seed {r['seed']}")
    ax_xor.axhline(0.25, color="k", linestyle="--", linewidth=1)
    ax_xor.set(xlabel="epoch", ylabel="error on the truth table", ylim=(-0.05, 1.05),
               title="xor_mlp on XOR")
    ax_xor.legend(fontsize=8)
    save_figure(fig, path)


@register_claim(
    sentence="A single perceptron learns AND, OR and NAND exactly but never XOR (its error on "
    "the XOR table stays at 1/4 or more), while a network with one hidden layer fits XOR.",
    source="Rosenblatt 1958; Minsky & Papert 1969, Perceptrons; Rumelhart, Hinton & Williams "
    "1986 (XOR by back-propagation)",
    models=("perceptron", "xor_mlp"),
    data="the truth tables of AND, OR, NAND and XOR (built-in dataset gates)",
    budget=BUDGET,
    rule=(AtMost("and_error", 0), AtMost("or_error", 0), AtMost("nand_error", 0),
          AtLeast("xor_min_error", 0.25), AtMost("xor_mlp_error", 0)),
    effect="xor_min_error",
    figure=figure,
)
def perceptron(seed: int, quick: bool, work) -> dict:
    budget = BUDGET.settings(quick)
    numbers = {}
    for gate in GATES:
        result = train("perceptron", "gates", work, seed, epochs=budget["perceptron_epochs"],
                       batch_size=1, data_options={"gate": gate})
        numbers[f"{gate}_curve"] = table_errors(result)
        numbers[f"{gate}_error"] = final_error(result, gate)
    numbers["xor_min_error"] = min(numbers["xor_curve"] + [numbers["xor_error"]])
    result = train("xor_mlp", "gates", work, seed, epochs=budget["mlp_epochs"], batch_size=1,
                   data_options={"gate": "xor"})
    numbers["xor_mlp_curve"] = table_errors(result)
    numbers["xor_mlp_error"] = final_error(result, "xor")
    return numbers
