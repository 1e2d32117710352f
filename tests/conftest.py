"""Test set-up: Hypothesis is deterministic in CI (derandomized: the same examples on every
run), and explores randomly elsewhere (``HYPOTHESIS_PROFILE=explore`` forces that in CI too)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore"))
