"""Dispatch: the per-country limiter, leases, reports and heartbeats of the workers.

Entry points: `service.build_dispatcher` (the `Dispatcher` the composition root
builds, `Services.dispatcher`) and `views.router` (the `/api/v1/worker` routes).
"""
