"""Configuration: one clear line naming the variable for each bad value (PRODUCT.md §3)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from graphql_app.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SECRET_KEY", "ENVIRONMENT", "DATABASE_URL", "FAUNA_SECRET", "BCRYPT_ROUNDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env, and the development key lands here


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ENVIRONMENT": "production"}, "SECRET_KEY"),
        ({"ENVIRONMENT": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 31}, "SECRET_KEY"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
        ({"BCRYPT_ROUNDS": "abc"}, "BCRYPT_ROUNDS"),
        ({"TRUST_FORWARDED_FOR": "on"}, "TRUST_FORWARDED_FOR"),
        ({"FORWARDED_ALLOW_IPS": "127.0.0.1, proxy.local"}, "FORWARDED_ALLOW_IPS"),
        ({"BCRYPT_ROUNDS": "3"}, "BCRYPT_ROUNDS"),
        ({"ACCESS_TOKEN_TTL": "-5"}, "ACCESS_TOKEN_TTL"),
        ({"AUTH_RATE_LIMIT": "lots"}, "AUTH_RATE_LIMIT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert variable in message and "\n" not in message


def test_production_accepts_a_long_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 32)
    settings = load_settings()
    assert settings.is_production
    assert not settings.graphiql_enabled and not settings.introspection_enabled
    assert "p" * 32 not in repr(settings)


def test_development_generates_and_keeps_a_key(tmp_path: Path) -> None:
    first = load_settings()
    second = load_settings()
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / ".secret_key").stat().st_mode & 0o077 == 0


def test_fauna_secret_selects_fauna_when_no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().storage_url == "sqlite:///./todo.db"
    monkeypatch.setenv("FAUNA_SECRET", "s3cr/t")
    monkeypatch.setenv("FAUNA_PORT", "8443")
    assert load_settings().storage_url == "fauna://s3cr%2Ft@127.0.0.1:8443?scheme=http"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///./other.db")
    assert load_settings().storage_url == "sqlite:///./other.db"


def test_serve_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "graphql_app", "serve"],
        cwd=tmp_path,
        env={
            "ENVIRONMENT": "production",
            "SECRET_KEY": "too-short",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY" in lines[0], result.stderr


def _documented(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text, flags=re.MULTILINE))


def _readme_table_names(text: str) -> set[str]:
    """Names in the first cell of the Configuration section's table rows (a row may name
    several): other sections' tables (error reasons, security) name other things."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| (`[A-Z][^|]*)\|", section, flags=re.MULTILINE)
    return {name for cell in cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


def test_env_example_and_readme_list_every_setting() -> None:
    from graphql_app.settings import Settings

    fields = Settings.model_fields
    settings = {name.upper() for name, field in fields.items() if not field.deprecated}
    example = _documented((ROOT / ".env.example").read_text(), r"^#? ?([A-Z][A-Z0-9_]+)=")
    readme = _readme_table_names((ROOT / "README.md").read_text())
    assert sorted(settings - example) == [], ".env.example lacks these settings"
    assert sorted(example - settings) == [], ".env.example names settings that do not exist"
    assert sorted(settings - readme) == [], "the README's settings table lacks these"
    assert sorted(readme - settings) == [], "the README's settings table names unknown settings"
