"""How hard the property tests try. ``make test`` runs them on the quick profile, a tenth of
the examples each names; ``make test-slow`` runs them again on the thorough one
(``--hypothesis-profile=thorough``), every example, so every change still gets the full count."""

from __future__ import annotations

from hypothesis import settings

QUICK = "quick"
THOROUGH = "thorough"
# Enough examples for each strategy's rarer branches (hostile values weigh 1 in 10) to be drawn.
FLOOR = 10

settings.register_profile(QUICK, max_examples=FLOOR)
settings.register_profile(THOROUGH)
settings.load_profile(QUICK)


def examples(thorough: int) -> int:
    """A property's example count: ``thorough`` on the thorough profile, a tenth otherwise."""
    loaded = settings.default
    if loaded is not None and loaded.max_examples == settings.get_profile(THOROUGH).max_examples:
        return thorough
    return max(FLOOR, thorough // 10)
