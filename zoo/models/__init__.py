"""Architecture families, one module each: builders, blocks, search spaces, registration.

Every module in this package is imported by `import_all()`, which runs its
`@register_model` decorators; a new family needs no list to be edited.
"""

from __future__ import annotations

import importlib
import pkgutil


def import_all() -> None:
    """Import every family module of this package (each registers its builders)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


import_all()
