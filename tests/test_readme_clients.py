"""The README's client snippets are exactly what the client tests run.

A script in tests/js (or an operations file in tests/js/relay) marks the code
the README shows with `// --- README: <section> ---` ... `// --- end README ---`. The JavaScript
code blocks of the README section `### <section>` (under `## Clients`), put
together, must be those regions put together: same lines, same order
(indentation aside, blank lines aside).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
JS_DIR = ROOT / "tests" / "js"
REGION = re.compile(
    r"^[ \t]*// --- README: (?P<name>.+?) ---\n(?P<code>.*?)^[ \t]*// --- end README ---$",
    re.M | re.S,
)
CODE_BLOCK = re.compile(r"^[ \t]*```(?:js|javascript|ts)\n(?P<code>.*?)^[ \t]*```$", re.M | re.S)


def lines(code: str) -> list[str]:
    return [line.rstrip() for line in textwrap.dedent(code).splitlines() if line.strip()]


def script_regions() -> dict[str, list[str]]:
    """Each README section named by a script: its lines, regions in order."""
    regions: dict[str, list[str]] = {}
    # relay/*.js: operations relay-compiler reads (it reads .js, not .mjs).
    for script in sorted([*JS_DIR.glob("*.mjs"), *JS_DIR.glob("relay/*.js")]):
        for match in REGION.finditer(script.read_text()):
            regions.setdefault(match["name"], []).extend(lines(match["code"]))
    return regions


def readme_section(name: str) -> str:
    text = README.read_text()
    clients = text.split("\n## Clients\n", 1)[1].split("\n## ", 1)[0]
    sections = re.split(r"^### ", clients, flags=re.M)
    found = [s for s in sections if s.split("\n", 1)[0].strip() == name]
    assert found, f'README has no "### {name}" under "## Clients"'
    return found[0]


REGIONS = script_regions()


def test_the_scripts_mark_readme_regions() -> None:
    assert {"Apollo Client", "urql", "graphql-request", "Relay"} <= set(REGIONS)


@pytest.mark.parametrize("name", sorted(REGIONS))
def test_readme_snippets_are_what_the_tests_run(name: str) -> None:
    shown = [
        line for block in CODE_BLOCK.finditer(readme_section(name)) for line in lines(block["code"])
    ]
    assert shown == REGIONS[name]
