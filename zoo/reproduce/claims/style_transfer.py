"""Neural style transfer: optimising an image's pixels pulls its Gram matrices (texture
statistics) to the style image's, and the style weight trades content for style.

Gatys, Ecker & Bethge 2015 (and 2016, CVPR): `zoo.runtime.stylize` takes Adam
steps on the pixels of scikit-learn's china.jpg (the content) against the Gram
matrices of `style_transfer`'s VGG19 features of a style image: a stained-glass
mosaic drawn here, and scikit-learn's flower.jpg and colour waves for the
paper's row of styles (the former benchmarks/style_figure.py). The style loss
is the unweighted sum over VGG19's five style layers of the squared Gram
difference, read before and after the optimisation. The trade-off row renders
the mosaic at 0.01x, 0.1x, 1x and 10x the style weight.

The claim needs ImageNet VGG19: with `style_transfer`'s random weights the Gram
statistics are of random features, and the paper says nothing about those. The
file is used when it is in the Keras cache (nothing is downloaded). Without it
the same code runs on random weights, with the loss weights that keep random
features' losses on one scale (docs/style-transfer.md), and the figure is
labelled so; the verdict is then "not measured: weights absent".
"""

from __future__ import annotations

import numpy as np

from zoo.reproduce.claim import AtLeast, Budget, NotMeasured, register_claim
from zoo.reproduce.measure import new_figure, save_figure

STYLES = ("mosaic", "flower", "waves")
TRADE_OFF = (0.01, 0.1, 1.0, 10.0)  # multipliers of the style weight, on the mosaic
# Loss weights (content, style, total variation): the tutorial's for ImageNet features;
# for random features the smoke run's of docs/style-transfer.md (TV dominates otherwise).
WEIGHTS = {"imagenet": (1e4, 1e-2, 30.0), "random": (1e4, 10.0, 1.0)}
# Full: 6 optimisations of 100 Adam steps a seed at 128 pixels.
BUDGET = Budget(quick={"size": 32, "steps": 5}, full={"size": 128, "steps": 100})


def mosaic(height: int, width: int, cells: int = 60, seed: int = 0) -> np.ndarray:
    """A stained-glass style: Voronoi cells in a few saturated colours, dark leads."""
    rng = np.random.default_rng(seed)
    palette = np.array([[200, 30, 40], [240, 190, 30], [30, 90, 200], [30, 150, 70],
                        [120, 40, 160], [240, 120, 20]], dtype=np.float64)
    centres = rng.uniform(0, 1, (cells, 2)) * (height, width)
    colours = palette[rng.integers(0, len(palette), cells)]
    yy, xx = np.mgrid[0:height, 0:width]
    d = (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2
    two = np.sort(d, axis=-1)[..., :2]
    image = colours[np.argmin(d, axis=-1)]
    edge = (np.sqrt(two[..., 1]) - np.sqrt(two[..., 0])) < max(1.0, min(height, width) / 80)
    image[edge] = 20
    return image.astype(np.uint8)


def waves(height: int, width: int) -> np.ndarray:
    """Swirling colour bands (a colormap over interfering sine waves)."""
    from matplotlib import colormaps

    yy, xx = np.mgrid[0:height, 0:width] / max(height, width) * 12.0
    field = np.sin(xx + 2 * np.sin(yy * 0.7)) + np.sin(yy * 1.3 + np.cos(xx * 0.5))
    rgb = colormaps["twilight_shifted"]((field - field.min()) / np.ptp(field))[..., :3]
    return (rgb * 255).astype(np.uint8)


def cached_imagenet_weights():
    """The ImageNet VGG19 (notop) file when it is in the Keras cache, else None."""
    from zoo.models.weights import IMAGENET, keras_cache_dir

    path = keras_cache_dir() / IMAGENET[("vgg19", False)].file_name
    return str(path) if path.is_file() else None


def _thinned(values: list[float], points: int = 60) -> list[float]:
    step = max(1, len(values) // points)
    return [float(v) for v in values[::step]]


def figure(results: list[dict], path) -> None:
    first = images = results[0]
    fig, axes = new_figure(4, width=3.2, height=2.8, rows=3)
    grid = axes.reshape(3, 4)
    for ax, (title, image) in zip(grid[0], (("content", images["content"]),
                                            *((f"style: {s}", images[s]) for s in STYLES))):
        ax.imshow(image)
        ax.set_title(title, fontsize=9)
    curve = grid[1][0]
    for r in results:
        losses = r["style_loss_curve"]
        curve.plot(np.linspace(1, r["steps"], len(losses)), losses, label=f"seed {r['seed']}")
    curve.set(xlabel="Adam step", ylabel="style loss (mosaic, 1x)", yscale="log")
    curve.legend(fontsize=7)
    for ax, style in zip(grid[1][1:], STYLES):
        ax.imshow(images[f"{style}_result"])
        ax.set_title(f"in {style}: style loss x{first[f'{style}_style_ratio']:.2f}", fontsize=9)
    for ax, m in zip(grid[2], TRADE_OFF):
        ax.imshow(images[f"mosaic_x{m:g}"])
        ax.set_title(f"style weight x{m:g}: style {first[f'mosaic_x{m:g}_style']:.3g},\n"
                     f"content {first[f'mosaic_x{m:g}_content']:.3g}", fontsize=8)
    for ax in [*grid[0], *grid[1][1:], *grid[2]]:
        ax.set_axis_off()
    weights = ("ImageNet VGG19" if first["imagenet_weights"] else
               "RANDOM VGG19 weights (ImageNet file absent): not the paper's result")
    fig.suptitle(f"Style transfer (Gatys et al. 2015), seed {first['seed']}, {weights}",
                 fontsize=10)
    save_figure(fig, path)


def _stylize(model, content, style, steps: int, weights: tuple, seed: int):
    from zoo.runtime.style import stylize

    content_weight, style_weight, tv_weight = weights
    return stylize(content, style, steps=steps, content_weight=content_weight,
                   style_weight=style_weight, tv_weight=tv_weight, size=None, weights=None,
                   seed=seed, verbose=0, model=model)


@register_claim(
    sentence="Optimising an image's pixels against VGG19's Gram matrices lowers its style loss "
    "to under half its starting value, and a 1,000 times larger style weight ends at a lower "
    "style loss and a higher content loss.",
    source="Gatys, Ecker & Bethge 2015, A Neural Algorithm of Artistic Style (Figs. 2-3: the "
    "Gram-matrix style representation and the content/style trade-off)",
    models=("style_transfer",),
    data="scikit-learn's china.jpg (content); a mosaic drawn here, flower.jpg and colour "
    "waves (styles); ImageNet VGG19 from the Keras cache",
    budget=BUDGET,
    rule=(AtLeast("style_loss_fall", 0.5), AtLeast("style_trade_off", 1.0),
          AtLeast("content_trade_off", 1.0)),
    effect="style_loss_fall",
    figure=figure,
)
def style_transfer(seed: int, quick: bool, work) -> dict:
    from zoo.registry import build
    from zoo.tasks.style import sample_images

    budget = BUDGET.settings(quick)
    content, flower = sample_images(budget["size"])
    h, w = content.shape[:2]
    styles = {"mosaic": mosaic(h, w), "flower": flower, "waves": waves(h, w)}
    weights_file = cached_imagenet_weights()
    weights = WEIGHTS["imagenet" if weights_file else "random"]
    model = build("style_transfer", weights=weights_file)
    numbers = {"imagenet_weights": weights_file is not None, "steps": budget["steps"],
               "loss_weights": list(weights)}
    drawn = {"content": content, **styles}
    for style, image in styles.items():
        r = _stylize(model, content, image, budget["steps"], weights, seed)
        drawn[f"{style}_result"] = r.image
        numbers[f"{style}_style_ratio"] = r.final["style"] / r.initial["style"]
        if style == "mosaic":
            numbers["style_loss_curve"] = _thinned([row["style"] for row in r.history])
            numbers["mosaic_x1_style"], numbers["mosaic_x1_content"] = (r.final["style"],
                                                                        r.final["content"])
            drawn["mosaic_x1"] = r.image
    for m in TRADE_OFF:
        if m != 1.0:
            scaled = (weights[0], weights[1] * m, weights[2])
            r = _stylize(model, content, styles["mosaic"], budget["steps"], scaled, seed)
            numbers[f"mosaic_x{m:g}_style"] = r.final["style"]
            numbers[f"mosaic_x{m:g}_content"] = r.final["content"]
            drawn[f"mosaic_x{m:g}"] = r.image
    low, high = f"mosaic_x{TRADE_OFF[0]:g}", f"mosaic_x{TRADE_OFF[-1]:g}"
    numbers["style_loss_fall"] = 1.0 - numbers["mosaic_style_ratio"]
    numbers["style_trade_off"] = numbers[f"{low}_style"] / numbers[f"{high}_style"]
    numbers["content_trade_off"] = numbers[f"{high}_content"] / numbers[f"{low}_content"]
    numbers["figure_only"] = drawn
    if weights_file is None:
        raise NotMeasured("weights absent (the ImageNet VGG19 file is not in the Keras "
                          "cache); the figure is made on random weights", numbers=numbers)
    return numbers
