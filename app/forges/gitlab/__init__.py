"""GitLab, as one bot user of one instance: its `ForgeSpec` is in `spec.py`."""
