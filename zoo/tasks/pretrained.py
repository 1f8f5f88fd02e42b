"""Classification after greedy layer-wise pre-training (the stacked autoencoder)."""

from __future__ import annotations

import numpy as np

from zoo.tasks.base import register_task
from zoo.tasks.supervised import Classification


class LayerwisePretrainedClassification(Classification):
    """A classifier whose hidden layers are pre-trained, one at a time, as autoencoders
    of the training features before gradient training of the whole network."""

    name = "layerwise_pretrained_classification"

    def pretrain(self, spec, model, plan, seed: int = 0, batch_size: int = 32) -> dict:
        """Greedy layer-wise pre-training on the plan's training split (features only;
        labels are never read).

        The split's features and each layer's codes are held in memory as float32
        arrays (digits: 0.3 MB; MNIST's 60,000 images: 188 MB).
        """
        from zoo.models.stacked_autoencoder import Pretraining, pretrain_layers

        config = getattr(model, "pretraining", None)
        if not isinstance(config, Pretraining):
            raise ValueError(
                f"Model {model.name!r} carries no pre-training settings (`model.pretraining`); "
                f"build it with zoo.build('stacked_autoencoder', ...)."
            )
        ds = plan.load(plan.train_split, batch_size=256, seed=seed, shuffle=False, augment=None)
        x = np.concatenate([np.asarray(features) for features, _ in ds])
        return pretrain_layers(
            model, x, epochs=config.epochs, corruption=config.corruption,
            batch_size=batch_size, seed=seed,
        )


register_task(LayerwisePretrainedClassification())
