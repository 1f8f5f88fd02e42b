"""The registry's public API and its error messages."""

import dataclasses
import inspect

import pytest

import zoo
from zoo.tasks import get_task
from zoo import registry
from zoo.registry import register_model


def test_list_models_shows_the_first_family_and_filters_with_fnmatch():
    assert {"linear_regression", "logistic_regression", "softmax_regression", "perceptron",
            "xor_mlp", "mlp", "lenet5"} <= set(zoo.list_models())
    assert zoo.list_models("*regression") == [
        "linear_regression", "logistic_regression", "softmax_regression"]
    assert zoo.list_models("lenet*") == ["lenet5"]
    assert zoo.list_models("nothing*") == []


def test_get_spec_carries_metadata():
    spec = zoo.get_spec("lenet5")
    assert spec.family == "lenet"
    assert spec.task == "image_classification"
    task = get_task(spec)
    assert task.loss_for(spec) == "sparse_categorical_crossentropy"
    assert task.metrics_for(spec) == ("accuracy",)
    assert "LeCun" in spec.reference
    assert spec.defaults["input_shape"] == (32, 32, 1)
    assert spec.defaults["classes"] == 10
    assert spec.dataset == "digits"


def test_unknown_model_lists_close_matches():
    with pytest.raises(zoo.UnknownModelError, match=r"^Unknown model 'lenet'\. Did you mean: lenet5\?$"):
        zoo.build("lenet")
    with pytest.raises(KeyError, match="Did you mean: perceptron"):
        zoo.get_spec("perceptorn")


def test_unknown_model_without_close_match_lists_all():
    with pytest.raises(zoo.UnknownModelError) as info:
        zoo.get_spec("qqqqqq")
    assert str(info.value) == (
        f"Unknown model 'qqqqqq'. Registered models: {', '.join(zoo.list_models())}."
    )


def test_unknown_argument_names_the_accepted_ones():
    expected = (
        "lenet5() got unexpected argument(s) clases. Did you mean: classes? Accepted arguments: "
        "activation, classes, classifier_activation, dropout_rate, include_top, input_shape, "
        "name, pooling, weights."
    )
    with pytest.raises(zoo.ArgumentError) as info:
        zoo.build("lenet5", clases=3)
    assert str(info.value) == expected
    assert isinstance(info.value, TypeError)


def test_duplicate_registration_fails():
    with pytest.raises(ValueError, match="Model 'mlp' is registered twice"):
        @register_model(family="x", task="regression", reference="none")
        def mlp():  # noqa: F811
            return None


def test_builder_arguments_need_defaults():
    with pytest.raises(TypeError, match=r"Builder needs_default\(\) argument 'units' needs a default"):
        @register_model(family="x", task="regression", reference="none")
        def needs_default(units):
            return None


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry to register test builders in, the models imported first
    (imported later, they would register into the copy and be lost with it)."""
    zoo.list_models()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@dataclasses.dataclass(frozen=True)
class _Body:
    depth: int = 2
    width: int = 8


def grouped(input_shape=(4,), body=_Body(), name="grouped"):
    """A builder with grouped arguments."""
    return (input_shape, body, name)


def test_grouped_builder_arguments_are_flat_arguments(scratch_registry):
    """A parameter whose default is a dataclass gives its fields as arguments of their own:
    `zoo.build` and the search spaces use flat names, the builder gets the dataclass."""
    register_model(family="x", task="regression", reference="none")(grouped)
    spec = zoo.get_spec("grouped")
    assert list(spec.defaults.items()) == [("input_shape", (4,)), ("depth", 2), ("width", 8),
                                           ("name", "grouped")]
    assert zoo.build("grouped", width=16) == ((4,), _Body(depth=2, width=16), "grouped")
    assert list(inspect.signature(spec.builder).parameters) == list(spec.defaults)
    with pytest.raises(zoo.ArgumentError, match=r"^grouped\(\) got unexpected argument\(s\) body\."):
        zoo.build("grouped", body=_Body())


def test_a_grouped_field_named_like_another_argument_is_refused():
    def clash(depth=1, body=_Body()):
        return None

    with pytest.raises(TypeError, match=r"^Builder clash\(\): body\.depth is named like another "
                                        r"argument\.$"):
        register_model(family="x", task="regression", reference="none")(clash)


def test_unknown_task_is_refused_with_the_closest_name(scratch_registry):
    # The registry sits below the tasks: a spec's task is looked up, and refused, when
    # something asks for it (training, search, export, the harness).
    register_model(family="x", task="clasification", reference="none")(typo_task)
    with pytest.raises(ValueError, match=r"^Unknown task 'clasification'\. Did you mean "
                                         r"'classification'\? Expected one of: "):
        get_task(zoo.get_spec("typo_task"))
    with pytest.raises(ValueError, match=r"^Unknown task 'clasification'\."):
        zoo.train("typo_task", "digits", epochs=1)


def typo_task():
    """A model registered with a misspelt task."""
    return None
