"""The developer platform: every API request logged, and usage analytics over the log."""
