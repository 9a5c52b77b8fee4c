"""epctl.cli."""
