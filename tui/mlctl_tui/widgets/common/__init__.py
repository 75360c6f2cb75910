"""Widgets every screen uses: the row table, the connection bar, the filter bar."""
