"""What evaluating a policy over a product found, and the words it is told in: apart from
the policies themselves (`quanta.model.governance`), as every check result carries it."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel


class Severity(StrEnum):
    INFO = "info"
    WARN = "warn"
    BLOCK = "block"


class RolloutState(StrEnum):
    DRAFT = "draft"
    """Evaluated and reported to the governance group only."""
    GRACE = "grace"
    """A warning to the team until ``until``; enforced from that day on."""
    ENFORCED = "enforced"


class Finding(BaseModel, frozen=True):
    """One policy over one product: whether it holds, and where not."""

    policy: str
    product: str
    domain: str
    severity: Severity
    state: RolloutState
    """The state in force on the day of the evaluation (a grace period past its day is
    enforced)."""
    until: date | None = None
    holds: bool
    failing: tuple[str, ...] = ()
    """What fails: ``port orders``, ``column profiles.email``; empty for a product policy
    that fails (or one that holds)."""
    error: str | None = None
    """The policy could not be evaluated on this product (it counts as failing)."""
    message: str = ""
    """The policy's title and fix, for the team."""

    @property
    def blocks(self) -> bool:
        """Whether this finding stops a publish."""
        return (
            not self.holds
            and self.severity == Severity.BLOCK
            and self.state == RolloutState.ENFORCED
        )

    @property
    def warns(self) -> bool:
        """Whether the team is told (a draft is told to the governance group only)."""
        return not self.holds and not self.blocks and self.state != RolloutState.DRAFT
