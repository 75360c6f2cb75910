"""The Textual terminal UI of mlctl (imported as mlctl_tui)."""
