"""Image grids: tile placement, value ranges, PNG round trip."""

import numpy as np
import pytest

from zoo.images import read_png, save_grid, tile_grid, to_uint8


def test_tiles_are_placed_row_by_row_with_padding():
    images = np.stack([np.full((2, 3), i, np.uint8) for i in range(5)])
    grid = tile_grid(images, columns=3, padding=1, pad_value=255)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1, 1)
    assert grid[0, 0, 0] == 0 and grid[0, 4, 0] == 1 and grid[0, 8, 0] == 2
    assert grid[3, 0, 0] == 3 and grid[3, 4, 0] == 4
    assert grid[2, 0, 0] == 255 and grid[3, 8, 0] == 255  # padding row, empty cell


def test_value_range_maps_tanh_outputs_and_clips():
    out = to_uint8(np.array([[-1.0, 0.0, 1.0, 2.0]]), value_range=(-1, 1))
    np.testing.assert_array_equal(out, [[0, 128, 255, 255]])


def test_per_image_min_max_scaling_for_weights():
    out = to_uint8(np.array([[1.0, 3.0], [-5.0, -4.0]]))
    np.testing.assert_array_equal(out, [[0, 255], [0, 255]])


def test_png_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(4, 5, 6, 3), dtype=np.uint8)
    path = save_grid(images, tmp_path / "sub" / "grid.png", columns=2, scale=2)
    back = read_png(path)
    assert back.shape == ((2 * 6 - 1) * 2, (2 * 7 - 1) * 2, 3)
    np.testing.assert_array_equal(back[::2, ::2], tile_grid(images, columns=2))
    assert not list((tmp_path / "sub").glob(".tmp-*"))


def test_wrong_shape_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"Expected images of shape .* Received: shape \(2, 3, 3, 4\)"):
        tile_grid(np.zeros((2, 3, 3, 4)))
