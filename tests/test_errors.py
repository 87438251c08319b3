"""One error model: every `extensions.code` is written once, in errors.py, and documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from graphql_app.errors import AppError, BadRequest, ErrorCode, RateLimited

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "graphql_app"


def test_each_code_is_spelled_out_only_in_errors_py() -> None:
    codes = {code.value for code in ErrorCode}
    elsewhere = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in codes:
                elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert elsewhere == []


def test_the_readme_lists_every_code_and_no_other() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Errors", 1)[1]
    paragraph = section.strip().split("\n\n", 1)[0]
    assert paragraph.startswith("Every error carries `extensions.code`")
    listed = set(re.findall(r"`([A-Z][A-Z_]+)`", paragraph))
    assert listed == {code.value for code in ErrorCode}


def test_an_error_formats_as_a_graphql_error_with_its_extensions() -> None:
    assert BadRequest("No query").formatted == {
        "message": "No query",
        "extensions": {"code": "BAD_REQUEST"},
    }
    assert RateLimited(7).formatted == {
        "message": "Too many requests, try again later",
        "extensions": {"code": "RATE_LIMITED", "retryAfter": 7},
    }
    assert AppError().formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
