"""The prepare phase: a repository's dependencies installed in the sandbox, through an
egress proxy that admits only package registries, cached per tenant."""

from app.prepare.plan import PreparePlan, PrepareStep, plan_for
from app.prepare.run import Prepared, PrepareSettings, prepare

__all__ = ["PreparePlan", "PrepareSettings", "PrepareStep", "Prepared", "plan_for", "prepare"]
