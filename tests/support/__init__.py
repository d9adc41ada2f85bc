"""Helpers shared by the test suites (real backends, fixtures' building blocks)."""
