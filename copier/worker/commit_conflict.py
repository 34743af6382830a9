"""How often the pump commits one decision on fresh state before giving up."""

from __future__ import annotations

__all__ = ["MAX_COMMIT_ATTEMPTS", "CommitConflict"]

#: Commits of one decision before giving up (the entry then stays pending).
MAX_COMMIT_ATTEMPTS = 20


class CommitConflict(RuntimeError):
    """A follower record kept changing under a decision."""
