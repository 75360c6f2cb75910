"""The TUI's I/O: the backend (Nomad through mlctl's facades), the one action layer,
log followers, the audit trail and the Store's feed. No textual imports here."""
