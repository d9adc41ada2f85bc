"""API keys: programmatic access with scopes and quotas, wherever a JWT works."""
