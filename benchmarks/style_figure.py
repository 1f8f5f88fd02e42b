"""The figure of Gatys et al. 2015 (neural style transfer) as one PNG grid.

One content photo (scikit-learn's china.jpg) rendered in three styles, and
the style/content trade-off row: one style at four ratios of content to
style weight (the paper's Figure 3 layout, with images this machine has
offline: scikit-learn's flower.jpg and two styles drawn here, a stained-glass
mosaic and colour waves). Grid, 4 columns:

    row 1: content | style A | style B | style C
    row 2: (blank) | content in A | in B | in C        (the given weights)
    row 3: content in B, style weight x0.01 | x0.1 | x1 | x10

The real figure needs keras.applications' ImageNet VGG19 (notop) file in the
Keras cache (`--weights imagenet`, the default; without it this fails at once
naming the file and folder) or given as a path. `--weights none` runs the same
pipeline on random VGG19 weights: a smoke run, not the paper's result.

Prints JSON (per image: content/style/tv losses before and after, seconds,
steps/s) and a table.

    python benchmarks/style_figure.py --out docs/style_transfer/figure.png [--weights imagenet]
        [--size 256] [--steps 300] [--optimizer adam|lbfgs]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

TRADE_OFF = (0.01, 0.1, 1.0, 10.0)  # style-weight multipliers of the last row


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


def styles(size: int) -> dict[str, np.ndarray]:
    from zoo.tasks.style import sample_images

    _, flower = sample_images(size)
    h, w = flower.shape[:2]
    return {"flower": flower, "mosaic": mosaic(h, w), "waves": waves(h, w)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/style_transfer/figure.png")
    parser.add_argument("--weights", default="imagenet",
                        help="imagenet, none (random VGG19: smoke run) or a weights file")
    parser.add_argument("--size", type=int, default=256, help="longer image side in pixels")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam")
    parser.add_argument("--content-weight", type=float, default=1e4)
    parser.add_argument("--style-weight", type=float, default=1e-2)
    parser.add_argument("--tv-weight", type=float, default=30.0)
    parser.add_argument("--scale", type=int, default=1, help="enlarge the PNG by this factor")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from zoo.models.style_transfer import style_transfer
    from zoo.runtime.style import stylize
    from zoo.tasks.style import resolve_weights, sample_images
    from zoo.models.weights import WeightsUnavailableError

    try:
        weights = resolve_weights(args.weights)  # first: fail at once without the file
    except (WeightsUnavailableError, FileNotFoundError) as e:
        print(f"style_figure: error: {e}", file=sys.stderr)
        return 2
    import keras

    from zoo.images import save_grid

    content, _ = sample_images(args.size)
    h, w = content.shape[:2]
    style_images = styles(args.size)  # china.jpg and flower.jpg have the same size
    keras.utils.set_random_seed(args.seed)
    model = style_transfer(weights=weights)

    runs = [(name, 1.0) for name in style_images]
    runs += [("mosaic", m) for m in TRADE_OFF]
    results, images = [], {}
    for style_name, multiplier in runs:
        style_weight = args.style_weight * multiplier
        print(f"{style_name}, style weight {style_weight:g} ({args.steps} {args.optimizer} steps "
              f"at {w}x{h})", file=sys.stderr)
        r = stylize(content, style_images[style_name], steps=args.steps,
                    content_weight=args.content_weight, style_weight=style_weight,
                    tv_weight=args.tv_weight, size=None, optimizer=args.optimizer,
                    weights=None, seed=args.seed, verbose=0, model=model)
        images[(style_name, multiplier)] = r.image
        results.append({
            "style": style_name, "content_weight": args.content_weight,
            "style_weight": style_weight, "content_to_style": args.content_weight / style_weight,
            "initial": {k: round(v, 6) for k, v in r.initial.items()},
            "final": {k: round(v, 6) for k, v in r.final.items()},
            "seconds": round(r.seconds, 1), "steps_per_second": round(r.steps_per_second, 2),
        })

    blank = np.full_like(content, 255)
    names = list(style_images)
    grid = [content, *style_images.values(),
            blank, *(images[(n, 1.0)] for n in names),
            *(images[("mosaic", m)] for m in TRADE_OFF)]
    path = save_grid(np.stack(grid), args.out, columns=4, scale=args.scale)
    report = {"out": str(path), "weights": args.weights, "size": [h, w], "steps": args.steps,
              "optimizer": args.optimizer, "tv_weight": args.tv_weight, "runs": results}
    print(json.dumps(report, indent=2))
    print()
    print(f"{'style':<8} {'content:style':>13} {'content before->after':>24} "
          f"{'style before->after':>24} {'steps/s':>8}")
    for r in results:
        print(f"{r['style']:<8} {r['content_to_style']:>13.0e} "
              f"{r['initial']['content']:>11.4g}->{r['final']['content']:<11.4g} "
              f"{r['initial']['style']:>11.4g}->{r['final']['style']:<11.4g} "
              f"{r['steps_per_second']:>8}")
    print(f"\nWrote {path} ({w}x{h} per image, weights={args.weights})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
