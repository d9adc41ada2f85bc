"""A running control plane for a seed module: `smsfleet serve` in a subprocess, spoken to
over HTTP as the seed documents' users speak to it.

- `control_plane`: one server per module (started once: a process takes seconds to
  start), with a user of each role; tests on it use numbers, messages and ids of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live_server import LiveApi, live_api


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with live_api(tmp_path_factory.mktemp("control-plane")) as running:
        yield running
