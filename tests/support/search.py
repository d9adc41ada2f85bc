"""What the search suite's service and the control plane using it share."""

SEARCH_TOKEN = "search-token-for-tests-0123456789"
