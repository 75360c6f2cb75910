"""mlctl: from a trained model to a scheduled, monitored, access-controlled service on Nomad."""

__version__ = "0.1.0"
