"""What the search suite's service and the control plane using it share."""

SEARCH_TOKEN = "search-token-for-tests-0123456789"

# A search job as the search document shows it (`/api/v1/users/<id>/search…`).
JOB_FIELDS = {
    "id",
    "owner",
    "query",
    "algorithm",
    "kinds",
    "limit",
    "status",
    "matched",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "results",
}
