"""The README's client snippets are exactly what the client tests run.

A script in tests/js (or an operations file in tests/js/relay) marks the code
the README shows with `// --- README: <section> ---` ... `// --- end README ---`. The JavaScript
code blocks of the README section `### <section>` (under `## Clients`), put
together, must be those regions put together: same lines, same order
(indentation aside, blank lines aside).
"""

from __future__ import annotations

import re

import pytest

from tests.js.node import JS_DIR
from tests.support.readme import lines, readme_section

REGION = re.compile(
    r"^[ \t]*// --- README: (?P<name>.+?) ---\n(?P<code>.*?)^[ \t]*// --- end README ---$",
    re.M | re.S,
)
CODE_BLOCK = re.compile(r"^[ \t]*```(?:js|javascript|ts)\n(?P<code>.*?)^[ \t]*```$", re.M | re.S)


def script_regions() -> dict[str, list[str]]:
    """Each README section named by a script: its lines, regions in order."""
    regions: dict[str, list[str]] = {}
    # relay/*.js: operations relay-compiler reads (it reads .js, not .mjs).
    for script in sorted([*JS_DIR.glob("*.mjs"), *JS_DIR.glob("relay/*.js")]):
        for match in REGION.finditer(script.read_text()):
            regions.setdefault(match["name"], []).extend(lines(match["code"]))
    return regions


REGIONS = script_regions()


def test_the_scripts_mark_readme_regions() -> None:
    assert {"Apollo Client", "urql", "graphql-request", "Relay"} <= set(REGIONS)


@pytest.mark.parametrize("name", sorted(REGIONS))
def test_readme_snippets_are_what_the_tests_run(name: str) -> None:
    shown = [
        line for block in CODE_BLOCK.finditer(readme_section(name)) for line in lines(block["code"])
    ]
    assert shown == REGIONS[name]
