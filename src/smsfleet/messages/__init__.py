"""Messages: inbound SMS, conversations per number, and on-demand sends with fallback."""
