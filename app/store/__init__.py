"""PostgreSQL state: every SQL statement of the service lives in this package."""

from app.store.db import Database, TenantConnection, connect

__all__ = ["Database", "TenantConnection", "connect"]
