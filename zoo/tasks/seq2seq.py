"""Sequence to sequence: source and decoder tokens -> output tokens (the Transformer).

The export serves the teacher-forced model (`serving_default`, ids of the
dataset's vocabulary) and greedy decoding (`translate`: source ids -> output ids).
"""

from __future__ import annotations

from zoo.tasks.base import Task, register_task


class SequenceToSequence(Task):
    name = "sequence_to_sequence"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"

    def export_endpoints(self, spec, model, plan) -> dict:
        """The `translate` signature: source ids -> greedy output ids.

        A source holds tokens only: ids after [START] (0 [PAD] and 1 [START] never
        occur in one), below the vocabulary size.
        """
        from pipelines.sequences import START_ID
        from zoo.models.transformer import greedy_decoder
        from zoo.tasks.serving import Endpoint, verification_sample

        length = model.input_shape[1] // 2
        x, _ = verification_sample(plan, 8)
        decoder = greedy_decoder(model, length, START_ID)
        return {"translate": Endpoint(decoder, "source", "tokens", "int32", x[:, :length],
                                      value_range=(START_ID + 1, plan.info.num_classes))}

    def serving_value_range(self, plan) -> tuple[int, int]:
        """Token ids (source and decoder input) index the dataset's vocabulary."""
        return (0, plan.info.num_classes)

    def output_shape(self, args: dict, input_shape: tuple) -> tuple:
        """Source + decoder inputs -> one probability vector per output step."""
        return (input_shape[0], input_shape[1] // 2, args["vocab_size"])


register_task(SequenceToSequence())
