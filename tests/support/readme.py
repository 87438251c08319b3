"""The README's sections, read by the tests that check it shows what they run."""

from __future__ import annotations

import re
import textwrap

from tests.support.live_server import ROOT

README = ROOT / "README.md"


def lines(code: str) -> list[str]:
    """`code`'s non-blank lines, dedented, without trailing spaces."""
    return [line.rstrip() for line in textwrap.dedent(code).splitlines() if line.strip()]


def readme_section(name: str) -> str:
    """The text of `### name` under `## Clients`."""
    text = README.read_text()
    clients = text.split("\n## Clients\n", 1)[1].split("\n## ", 1)[0]
    sections = re.split(r"^### ", clients, flags=re.M)
    found = [s for s in sections if s.split("\n", 1)[0].strip() == name]
    assert found, f'README has no "### {name}" under "## Clients"'
    return found[0]
