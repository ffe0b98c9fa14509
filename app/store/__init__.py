"""PostgreSQL state: every SQL statement of the service lives in this package."""

from app.store.db import (
    DATABASE_ERRORS,
    UNSTORABLE_VALUE_ERRORS,
    Database,
    DatabaseUnavailable,
    TenantConnection,
    connect,
)

__all__ = [
    "DATABASE_ERRORS",
    "UNSTORABLE_VALUE_ERRORS",
    "Database",
    "DatabaseUnavailable",
    "TenantConnection",
    "connect",
]
