"""epctl.schemas."""
