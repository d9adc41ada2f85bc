"""Search: a separate service that indexes attempts and messages and runs search jobs."""
