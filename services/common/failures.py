"""Why a use case refuses: plain exceptions that domain and service code raise without
knowing about HTTP. Every web process answers them in the contract's error format
(`services.common.errors`): 403, 404, 409 and 422."""

from __future__ import annotations


class Failure(Exception):
    code: str = "failure"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(Failure):
    """No such thing, or one the caller may not know exists (a wrong token)."""

    code = "not_found"

    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}.")


class NotAllowed(Failure):
    """The caller is known but may not do this to this thing (a rule, not a role)."""

    code = "forbidden"


class Conflict(Failure):
    """The request does not fit the current state."""

    code = "conflict"


class Invalid(Failure):
    """A field's value is wrong in a way the schema could not see."""

    code = "validation_failed"

    def __init__(self, field: str, messages: str | list[str], code: str | None = None) -> None:
        messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__(messages[0], code)
        self.fields = {field: messages}
