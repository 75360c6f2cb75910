"""pytest fixtures around the Nomad-API engine in ``mlctl.local.engine``."""
