"""Metrics: rollups of attempts, the query API, Prometheus exposition.

Definitions of every figure: `smsfleet.metrics.models`.
"""
