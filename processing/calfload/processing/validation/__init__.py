"""Accuracy checks of every estimate, against real recordings and simulated truth.

Each module in this package validates one estimate on one data set and exposes::

    ORDER: int                                   # position in docs/validation.md
    def run(data_dir: Path) -> Section           # data_dir = ../shared/data

``scripts/validate.py`` discovers the modules, runs them and writes
``docs/validation.md``; the tests assert the same targets on the same code.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class Section:
    """One validation result: a Markdown body and the headline numbers."""

    title: str
    markdown: str
    metrics: dict[str, float] = field(default_factory=dict)
    passed: bool = True


def modules() -> Iterator[ModuleType]:
    """The validation modules of this package, in their documented order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "run", None)):
            found.append(module)
    yield from sorted(found, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def run_all(data_dir: Path) -> list[Section]:
    sections = []
    for module in modules():
        run: Callable[[Path], Section] = module.run
        sections.append(run(data_dir))
    return sections
