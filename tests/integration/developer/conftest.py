"""Usage analytics over the in-process control plane and on both metrics-store backends."""

from tests.integration.api.conftest import api  # noqa: F401  (shared fixture)
from tests.integration.policy.conftest import metrics_engine  # noqa: F401  (shared fixture)
