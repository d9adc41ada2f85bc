"""The test suites. Helpers in tests/support are imported by tests and conftests, and some
are plugins (tests/conftest.py): pytest rewrites their asserts as it does the tests'."""

import pytest

pytest.register_assert_rewrite("tests.support")
