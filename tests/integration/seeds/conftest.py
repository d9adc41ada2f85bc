"""The seed documents' own examples, replayed in their own words against a control plane.

- `api`: the in-process control plane on SQLite with a user of each role.
"""

from __future__ import annotations

from tests.integration.api.conftest import api  # noqa: F401  (shared fixture)
