"""The model bundle contract: mlctl.yaml schema, validation, packaging, safe unpacking."""
