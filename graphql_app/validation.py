"""Input rules of PRODUCT.md §4, collected into one BAD_USER_INPUT per request.

Each check returns the normalised value or records a message under the
argument's path (`input.email` inside an input object, `first` at the top).
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from graphql_app.errors import BadUserInput
from graphql_app.security.passwords import password_problem

MAX_EMAIL = 254
MAX_FULLNAME = 300
MAX_TODO_NAME = 1000
MAX_FIRST = 100


class Problems:
    """Collects field problems; `check()` raises them all at once."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, message)

    def check(self) -> None:
        if self.fields:
            raise BadUserInput(self.fields)


def is_storable(text: str) -> bool:
    """Text every backend can store: valid UTF-8 (no lone surrogates) without NUL.

    JSON can carry both ("\\u0000", "\\ud800"); PostgreSQL refuses NUL in text and
    SQLite's driver cannot encode a lone surrogate.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NOT_TEXT = "Must be valid text without NUL characters"


def normalise_email(value: str) -> str:
    """Trimmed and lower-cased: how emails are stored and looked up."""
    return value.strip().lower()


def clean_email(problems: Problems, path: str, value: str) -> str:
    email = normalise_email(value)
    if not is_storable(email):
        problems.add(path, NOT_TEXT)
        return email
    if len(email) > MAX_EMAIL:
        problems.add(path, f"Email must be at most {MAX_EMAIL} characters")
        return email
    try:
        # Syntax only: no DNS look-up.
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        problems.add(path, "Not a valid email address")
    return email


def clean_text(problems: Problems, path: str, value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not is_storable(text):
        problems.add(path, NOT_TEXT)
    elif not text:
        problems.add(path, f"{what} must not be empty")
    elif len(text) > limit:
        problems.add(path, f"{what} must be at most {limit} characters")
    return text


def clean_fullname(problems: Problems, path: str, value: str) -> str:
    return clean_text(problems, path, value, "Full name", MAX_FULLNAME)


def clean_todo_name(problems: Problems, path: str, value: str) -> str:
    return clean_text(problems, path, value, "Name", MAX_TODO_NAME)


def check_password(problems: Problems, path: str, value: str) -> None:
    problem = password_problem(value)
    if problem:
        problems.add(path, problem)


def check_first(problems: Problems, path: str, value: int) -> None:
    if not 1 <= value <= MAX_FIRST:
        problems.add(path, f"Must be between 1 and {MAX_FIRST}")
