"""GitHub, as a GitHub App: its `ForgeSpec` is in `spec.py`."""
