"""Moved to the package `tests.sim.github`; this name stays until the imports follow."""

from tests.sim.github import GitHubSim, LoggedRequest, diff_hunk_lines, generate_app_key

__all__ = ["GitHubSim", "LoggedRequest", "diff_hunk_lines", "generate_app_key"]
