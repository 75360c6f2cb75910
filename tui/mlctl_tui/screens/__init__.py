"""The TUI's screens: Models (home), Model detail, Nodes, Schedules, Alerts & events,
Logs, Help, and the modal dialogs (confirmations, the one ErrorModal, forms)."""
