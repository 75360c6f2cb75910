"""Widgets of the Logs screen."""
