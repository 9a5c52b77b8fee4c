"""Version commands."""
