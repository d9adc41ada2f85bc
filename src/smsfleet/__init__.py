"""smsfleet: control plane, dashboard and alerting for a fleet of SMS test programs."""

__version__ = "0.1.0"
