"""The command line and its display."""
