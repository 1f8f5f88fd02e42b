"""A claim: one sentence from a paper or a tutorial, and the rule that decides it here.

A claim is registered where it is defined, as models are: its `run` function is
decorated with `@register_claim(...)` in its own module under
`zoo/reproduce/claims/`, and the function's name is the claim id (written once).
The decorator declares everything else: the sentence, its source, the models
and data, the budget, the verdict rule and the effect reported over seeds.

The rule is a tuple of conditions over one seed's numbers (`Within`, `AtLeast`,
`AtMost`), stated before the claim is first run and never tuned afterwards; the
claim holds when every condition holds in every seed. Claim modules import no
TensorFlow at module level, so `zoo reproduce --list` starts in a moment.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import re
from typing import Any, Callable, Mapping

from zoo.registry import closest_names

CLAIM_ID = re.compile(r"[a-z][a-z0-9_]*")
_CLAIMS: dict[str, "Claim"] = {}


class UnknownClaimError(ValueError):
    """Raised for a claim id that is not registered."""


class NotMeasured(Exception):
    """Raised by a claim's `run` when it cannot measure here; the message says why.

    `numbers` are what it could run instead (e.g. on random weights): they are kept in
    the record and drawn, labelled by the claim's figure, and decide no verdict.
    """

    def __init__(self, why: str = "", numbers: Mapping[str, Any] | None = None):
        super().__init__(why)
        self.numbers = numbers


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclasses.dataclass(frozen=True)
class Within:
    """|numbers[key] - target| <= tolerance."""

    key: str
    target: float
    tolerance: float

    def check(self, numbers: Mapping[str, Any]) -> bool:
        return _finite(numbers[self.key]) and abs(numbers[self.key] - self.target) <= self.tolerance

    def describe(self) -> str:
        return f"{self.key} within {_fmt(self.tolerance)} of {_fmt(self.target)}"


@dataclasses.dataclass(frozen=True)
class AtLeast:
    """numbers[key] >= bound."""

    key: str
    bound: float

    def check(self, numbers: Mapping[str, Any]) -> bool:
        return _finite(numbers[self.key]) and numbers[self.key] >= self.bound

    def describe(self) -> str:
        return f"{self.key} >= {_fmt(self.bound)}"


@dataclasses.dataclass(frozen=True)
class AtMost:
    """numbers[key] <= bound."""

    key: str
    bound: float

    def check(self, numbers: Mapping[str, Any]) -> bool:
        return _finite(numbers[self.key]) and numbers[self.key] <= self.bound

    def describe(self) -> str:
        return f"{self.key} <= {_fmt(self.bound)}"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class Budget:
    """The settings a claim's `run` uses at each budget (epochs, sample sizes, ...).

    `quick` runs the same code in under 30 s (the default test suite runs it);
    `full` is what the committed record measures, within 10 CPU-minutes on 2 cores.
    """

    quick: Mapping[str, Any]
    full: Mapping[str, Any]

    def settings(self, quick: bool) -> dict:
        return dict(self.quick if quick else self.full)

    def describe(self, quick: bool) -> str:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.settings(quick).items())


@dataclasses.dataclass(frozen=True)
class Claim:
    """A registered claim (see the module docstring).

    Attributes:
        id: The decorated function's name (snake_case), also its module's name.
        sentence: The claim in one sentence.
        source: The paper or tutorial topic it comes from.
        models: The registered models it trains or builds.
        data: The data, in words.
        budget: Its `Budget`.
        rule: Conditions over one seed's numbers; all must hold in every seed.
        effect: The key of the number reported as mean ± std over seeds.
        run: `run(seed, quick, work) -> dict` of numbers (floats, lists of floats; an
            optional "report" entry holds text lines printed once, e.g. a table; an
            optional "figure_only" dict holds what only the figure draws, such as
            images, and is not written to result.json).
            `work` is a scratch folder (run folders), deleted afterwards.
        figure: `figure(results, path)`: the PNG of the per-seed numbers.
    """

    id: str
    sentence: str
    source: str
    models: tuple[str, ...]
    data: str
    budget: Budget
    rule: tuple
    effect: str
    run: Callable[..., dict]
    figure: Callable[[list, Any], Any]

    @property
    def rule_text(self) -> str:
        return " and ".join(c.describe() for c in self.rule)

    def failures(self, numbers: Mapping[str, Any]) -> list[str]:
        """The conditions `numbers` break, each with the value measured."""
        return [f"{c.describe()} ({c.key} = {_fmt(numbers[c.key])})"
                for c in self.rule if not c.check(numbers)]


def register_claim(*, sentence: str, source: str, models: tuple[str, ...], data: str,
                   budget: Budget, rule: tuple, effect: str, figure: Callable):
    """Register the decorated `run(seed, quick, work)` as the claim named after it."""

    def decorate(run: Callable) -> Callable:
        claim_id = run.__name__
        if not CLAIM_ID.fullmatch(claim_id):
            raise ValueError(f"A claim id is snake_case. Received: {claim_id!r}")
        if claim_id in _CLAIMS:
            raise ValueError(f"Claim {claim_id!r} is already registered.")
        if not rule:
            raise ValueError(f"Claim {claim_id!r} needs a verdict rule.")
        _CLAIMS[claim_id] = Claim(claim_id, sentence, source, tuple(models), data, budget,
                                  tuple(rule), effect, run, figure)
        return run

    return decorate


def _ensure_claims_imported() -> None:
    """Import every module of `zoo.reproduce.claims`: each registers its claim."""
    package = importlib.import_module("zoo.reproduce.claims")
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")


def list_claims() -> list[str]:
    """The registered claim ids, sorted."""
    _ensure_claims_imported()
    return sorted(_CLAIMS)


def get_claim(claim_id: str) -> Claim:
    """The claim registered as `claim_id`.

    Raises:
        UnknownClaimError: listing the closest registered ids (all of them when none is close).
    """
    _ensure_claims_imported()
    if claim_id in _CLAIMS:
        return _CLAIMS[claim_id]
    close = closest_names(str(claim_id), list(_CLAIMS))
    hint = (f"Did you mean: {', '.join(close)}?" if close
            else f"Registered claims: {', '.join(sorted(_CLAIMS))}.")
    raise UnknownClaimError(f"Unknown claim {claim_id!r}. {hint} (`zoo reproduce --list`)")
