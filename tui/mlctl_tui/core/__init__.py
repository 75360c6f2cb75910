"""Pure logic of the TUI: rows, filters, health, confirmations, log buffers.

Nothing here imports textual or does I/O, so every rule is unit-tested directly and the
benchmarks measure it without a terminal.
"""
