"""Moved to the package `tests.sim.gitlab`; this name stays until the imports follow."""

from tests.sim.gitlab import GitLabSim, LoggedRequest, SimProject, SimUser

__all__ = ["GitLabSim", "LoggedRequest", "SimProject", "SimUser"]
