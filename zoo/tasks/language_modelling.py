"""Language modelling: token ids -> next-token probabilities, text in at serving."""

from __future__ import annotations

import numpy as np

from zoo.tasks.base import Task, register_task


class LanguageModelling(Task):
    name = "language_model"
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    output_name = "probabilities"
    reads_text_corpus = True
    trains_on_text = True

    def data_options(self, spec, dataset, options: dict) -> None:
        """A labelled text dataset (imdb_reviews) is read as a corpus: labels dropped."""
        import pipelines

        if pipelines.resolve(dataset, options.get("data_dir")).kind == "labelled_text":
            options.setdefault("corpus", True)

    def export_arguments(self, spec, model, plan, metadata: dict, batch: int = 8) -> dict:
        """Text in (`serving_default`, string ops, no XLA) and token ids in (`token_ids`,
        XLA-compiled); a stateful model is served stateless (every request from a zero
        state, at any batch size)."""
        from zoo.tasks.serving import Endpoint, verification_sample

        if any(getattr(layer, "stateful", False) for layer in model.layers):
            stateless = spec.builder(**{**plan.builder_args, "stateful_batch_size": None})
            stateless.set_weights(model.get_weights())
            model = stateless
        tokens = np.array(plan.info.class_names)
        level = plan.data_options.get("level", "char")
        ids = verification_sample(plan, batch)[0]
        # Texts of different lengths, so the padding path is verified too.
        pieces = [tokens[row[: max(1, len(row) - 3 * i)]] for i, row in enumerate(ids)]
        texts = np.array(["".join(p) if level == "char" else " ".join(p) for p in pieces])
        return dict(
            model=model,
            serving=text_serving_model(model, tokens, level, "text", self.output_name_for(spec)),
            input_name="text",
            output_name=self.output_name_for(spec),
            sample=texts,
            # Id 0 is `[UNK]`: unknown tokens of a text, and `zoo generate`'s empty prompt.
            endpoints={"token_ids": Endpoint(token_ids_model(model, self.output_name_for(spec)),
                                             "token_ids", self.output_name_for(spec), "int32", ids,
                                             value_range=(0, len(tokens)))},
            class_names=[str(t) for t in tokens],
            metadata={**metadata, "level": level},
        )

    def serving_input_name(self, plan) -> str:
        return "text"

    def output_shape(self, args: dict, input_shape: tuple) -> tuple:
        """Next-token probabilities at every step."""
        return (input_shape[0], input_shape[1], args["vocab_size"])

    def training_builder_args(self, spec, plan, batch_size: int, replicas: int) -> dict:
        """With data option stateful=True, the model's fixed batch size: contiguous
        batches, the recurrent state carried from batch to batch."""
        args = super().training_builder_args(spec, plan, batch_size, replicas)
        if not plan.data_options.get("stateful"):
            return args
        if "stateful_batch_size" not in spec.defaults:
            raise ValueError(
                f"Data option stateful=True carries recurrent state across batches; "
                f"{spec.name} has no stateful mode."
            )
        if replicas > 1:
            raise ValueError(
                f"Data option stateful=True carries state from batch to batch of one "
                f"device; it cannot be split across {replicas} replicas.")
        return {**args, "stateful_batch_size": batch_size}

    def training_callbacks(self, spec, model, plan, write_dir) -> list:
        """A stateful model's state is cleared where each pass over the data starts."""
        callbacks = super().training_callbacks(spec, model, plan, write_dir)
        if plan.data_options.get("stateful"):
            from zoo.models.language_models import StatefulReset

            callbacks = [*callbacks, StatefulReset()]
        return callbacks

    def run_files(self, spec, plan, run) -> None:
        """The vocabulary travels with the model (`zoo generate`, exports)."""
        run.write_vocabulary(plan.info.class_names)


register_task(LanguageModelling())


def text_serving_model(model, vocabulary, level, input_name="text", output_name="probabilities"):
    """Text (B,) -> the language model's next-token probabilities after each text (B, V).

    Tokenization and the vocabulary are inside the graph; texts of different
    lengths are right-padded, and the output is read at each text's last
    token, which padding cannot change in a causal model. An empty text reads
    as [UNK] (id 0), the way `zoo generate` starts an empty prompt.
    """
    from pipelines.layers import TextToIds
    from zoo.layers import AtLeastOneStep, LastStep
    from zoo.tasks.serving import string_serving_model

    def last_step(ids, lengths):
        ids = AtLeastOneStep(name="at_least_one_step")(ids)  # a batch of empty texts
        return LastStep(name=output_name)(model(ids), lengths)

    return string_serving_model(model, TextToIds(vocabulary, level, name="tokenize"), last_step,
                                input_name)


def token_ids_model(model, output_name="probabilities"):
    """Token ids (B, T) -> next-token probabilities after the last one (B, V); XLA-compilable."""
    import keras

    from zoo.layers import LastStep

    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    return keras.Model(ids, LastStep(name=output_name)(model(ids)), name=f"{model.name}_next_token")
