"""The errors Caseline raises, each saying in a clerk's words which rule was broken.

    CaselineError
    ├── InvalidInputError          bad values: empty or oversized text, unknown choice
    ├── NotFoundError              an id that does not exist (or is out of reach)
    │   ├── IssueNotFoundError
    │   ├── OpinionNotFoundError
    │   └── MeetingNotFoundError
    ├── RuleBrokenError            the command is well formed but the rules forbid it now
    │   ├── LeaderAlreadyAssignedError, NoLeaderError, SameLeaderError
    │   ├── WrongStageError, IssueClosedError
    │   ├── DeadlineInPastError, DeadlineNotLaterError
    │   ├── OpinionAlreadyMergedError
    │   ├── NoEvaluationsError, AlreadyEvaluatedError, NotPermittedError
    │   ├── UnknownCoordinationError, ClockStateError, AccountStateError
    │   ├── NothingToDiscloseError
    │   └── IdempotencyKeyReusedError
    └── ConflictError              concurrent writers kept colliding after the retries

Every class carries a stable `code` for machines and a message for people.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# A moment in a message, as `utc_text` writes it and `UTC_TEXT` finds it again (the pages show it
# in the town's zone instead).
UTC_TEXT_FORMAT = "%Y-%m-%d %H:%M"
UTC_TEXT = re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC\b")


def utc_text(moment: datetime) -> str:
    """A moment as clerks read it in messages: minutes, in UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:{UTC_TEXT_FORMAT}} UTC"


class CaselineError(Exception):
    """Raised for anything Caseline refuses; never raised directly."""

    code = "caseline_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(CaselineError):
    """Raised when a value is empty, too long, out of range or not one of the choices."""

    code = "invalid_input"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotFoundError(CaselineError):
    """Raised when an id names nothing the caller may see."""

    code = "not_found"


class IssueNotFoundError(NotFoundError):
    """Raised when no issue has the given id or number."""

    code = "issue_not_found"

    def __init__(self, ref: object) -> None:
        super().__init__(f"There is no issue {ref}.")


class OpinionNotFoundError(NotFoundError):
    """Raised when no opinion has the given id."""

    code = "opinion_not_found"

    def __init__(self, ref: object) -> None:
        super().__init__(f"There is no opinion {ref}.")


class MeetingNotFoundError(NotFoundError):
    """Raised when a command names a meeting that was never held."""

    code = "meeting_not_found"

    def __init__(self, ref: object) -> None:
        super().__init__(f"There is no meeting {ref}.")


class RuleBrokenError(CaselineError):
    """Raised when a well-formed command breaks one of the workflow's rules."""

    code = "rule_broken"


class LeaderAlreadyAssignedError(RuleBrokenError):
    """Raised when assigning a leader to an issue that already has one."""

    code = "leader_already_assigned"

    def __init__(self, number: str, leader: str) -> None:
        super().__init__(f"Issue {number} already has a leader ({leader}); hand it over instead.")


class NoLeaderError(RuleBrokenError):
    """Raised when a command needs the accountable leader and none is assigned yet."""

    code = "no_leader"

    def __init__(self, number: str) -> None:
        super().__init__(f"Issue {number} has no leader yet; assign one first.")


class SameLeaderError(RuleBrokenError):
    """Raised when handing an issue over to the leader who already holds it."""

    code = "same_leader"

    def __init__(self, number: str, leader: str) -> None:
        super().__init__(f"Issue {number} is already led by {leader}; name a successor.")


class WrongStageError(RuleBrokenError):
    """Raised when a command does not fit the stage the issue is in."""

    code = "wrong_stage"

    def __init__(self, number: str, stage: str, action: str) -> None:
        super().__init__(f"Issue {number} is {stage.replace('_', ' ')}; it cannot {action} now.")
        self.stage = stage


class IssueClosedError(WrongStageError):
    """Raised when anything but a supervisor's reopen is asked of a closed issue."""

    code = "issue_closed"

    def __init__(self, number: str, action: str) -> None:
        RuleBrokenError.__init__(
            self,
            f"Issue {number} is closed; it cannot {action}. Only a supervisor can reopen it.",
        )
        self.stage = "closed"


class DeadlineInPastError(RuleBrokenError):
    """Raised when a deadline is not after the present moment."""

    code = "deadline_in_past"

    def __init__(self, deadline: datetime) -> None:
        super().__init__(f"The deadline {utc_text(deadline)} has already passed.")


class DeadlineNotLaterError(RuleBrokenError):
    """Raised when an extension does not move the deadline later."""

    code = "deadline_not_later"

    def __init__(self, number: str, current: datetime) -> None:
        super().__init__(
            f"Issue {number} is already due {utc_text(current)}; an extension must move the deadline later."
        )


class OpinionAlreadyMergedError(RuleBrokenError):
    """Raised when merging an opinion that already belongs to an issue."""

    code = "opinion_already_merged"

    def __init__(self, number: str) -> None:
        super().__init__(f"This opinion is already merged into issue {number}.")


class NoEvaluationsError(RuleBrokenError):
    """Raised when concluding an evaluation round in which nobody has voted."""

    code = "no_evaluations"

    def __init__(self, number: str) -> None:
        super().__init__(f"Nobody has evaluated issue {number} yet; record verdicts first.")


class NotPermittedError(RuleBrokenError):
    """Raised when the actor's role may not take this action."""

    code = "not_permitted"


class UnknownCoordinationError(RuleBrokenError):
    """Raised when answering a coordination request that was never made or is answered."""

    code = "unknown_coordination"


class IdempotencyKeyReusedError(RuleBrokenError):
    """Raised when an idempotency key is sent again with a different command."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__("This idempotency key was already used for a different request; use a new key.")


class ConflictError(CaselineError):
    """Raised when others kept changing the same record until the retries ran out."""

    code = "conflict"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was being changed by someone else at the same moment; please try again.")


class AlreadyEvaluatedError(RuleBrokenError):
    """Raised when the same evaluator votes twice on one evaluation round."""

    code = "already_evaluated"

    def __init__(self, number: str, evaluator: str) -> None:
        super().__init__(f"{evaluator} has already evaluated issue {number} in this round.")


class ClockStateError(RuleBrokenError):
    """Raised when pausing a paused clock or resuming one that runs."""

    code = "clock_state"


class AccountStateError(RuleBrokenError):
    """Raised when granting to a revoked account, revoking twice, or revoking an unknown key."""

    code = "account_state"


class NothingToDiscloseError(RuleBrokenError):
    """Raised when every field chosen for publication is still empty on this item."""

    code = "nothing_to_disclose"
