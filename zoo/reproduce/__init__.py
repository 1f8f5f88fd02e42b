"""Reproductions: claims from papers and tutorials, rerun with the zoo's own training.

One module per claim under `zoo/reproduce/claims/`, registered with
`@register_claim` (see `zoo.reproduce.claim`); `reproduce` runs one over seeds
and writes its figure and JSON record; `format_list` and `docs_page` read the
committed records (docs/reproductions/). `zoo reproduce` is the command line.

    >>> from zoo import reproduce
    >>> reproduce.list_claims()[:2]
    ['convnet_shapes', 'linear_regression']
    >>> result = reproduce.reproduce("linear_regression", quick=True, out="tmp")
    >>> result.verdict
    'holds'
"""

from zoo.reproduce.claim import (AtLeast, AtMost, Budget, Claim, NotMeasured, UnknownClaimError,
                                 Within, get_claim, list_claims, register_claim)
from zoo.reproduce.report import DOCS_DIR, docs_page, format_list, read_record, write_docs_page
from zoo.reproduce.runner import Reproduction, reproduce

__all__ = [
    "AtLeast", "AtMost", "Budget", "Claim", "DOCS_DIR", "NotMeasured", "Reproduction",
    "UnknownClaimError", "Within", "docs_page", "format_list", "get_claim", "list_claims",
    "read_record", "register_claim", "reproduce", "write_docs_page",
]
