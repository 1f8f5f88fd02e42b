"""Folder names derived from user strings stay one plain folder."""

import pytest

from zoo._common import check_folder_name, safe_folder_name


@pytest.mark.parametrize("text, expected", [
    ("digits", "digits"),
    ("tiny_shakespeare", "tiny_shakespeare"),
    ("../../../../corpus/tiny.txt", "corpus_tiny.txt-a774862a"),
    ("/abs/x y.csv", "abs_x_y.csv-37e6a065"),
    ("..", "data-5ec1f7e7"),
    ("a\\b", "a_b-c62016d0"),
])
def test_safe_folder_name_is_one_plain_folder(text, expected):
    assert safe_folder_name(text) == expected


def test_safe_folder_names_of_different_strings_differ():
    assert safe_folder_name("a/b") != safe_folder_name("a_b")
    assert len(safe_folder_name("x" * 200)) == 64


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "a\\b", "a b", None])
def test_check_folder_name_refuses(name):
    with pytest.raises(ValueError, match="must be a plain folder name"):
        check_folder_name("name", name)


def test_check_folder_name_accepts_plain_names():
    for name in ("lenet5", "my-model_2.1", "A"):
        check_folder_name("name", name)
