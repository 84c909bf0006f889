"""Small shared utilities (no torch)."""
