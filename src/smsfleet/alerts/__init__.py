"""Alerts: rules over the fleet's events and figures, deduplicated, kept, and sent to Telegram."""
