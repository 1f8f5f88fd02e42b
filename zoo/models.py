"""Imports every architecture family so their builders register."""

from zoo import alexnet, convnet, googlenet, language_models, lenet, linear, mlp, resnet, vgg  # noqa: F401
from zoo import darnn, rnn_classifier, transformer  # noqa: F401  (sequence models)
from zoo import word_vectors  # noqa: F401  (word representations)
from zoo import autoencoders  # noqa: F401  (unsupervised: autoencoders)
from zoo import fast_style, style_transfer  # noqa: F401  (neural style transfer)
from zoo import stacked_autoencoder  # noqa: F401  (greedy layer-wise pre-training)
from zoo import dcgan  # noqa: F401  (generative adversarial networks)
