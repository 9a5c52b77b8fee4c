"""epctl.runtime."""
