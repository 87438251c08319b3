"""The container files that no machine here can build stay true to the code: the
settings they set exist, and the nginx template gets every variable it names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from graphql_app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def test_compose_sets_only_real_settings_on_the_instances() -> None:
    services = compose()["services"]
    known = {name.upper() for name, field in Settings.model_fields.items() if not field.deprecated}
    for name in ("app1", "app2", "migrate"):
        environment = services[name]["environment"]
        assert set(environment) <= known, f"{name}: {set(environment) - known}"
        assert environment["ENVIRONMENT"] == "production"


def test_compose_gives_nginx_every_variable_of_the_template() -> None:
    template = (ROOT / "deploy" / "nginx" / "graphql_app.conf.template").read_text()
    names = set(re.findall(r"\$\{(\w+)\}", template))
    nginx = compose()["services"]["nginx"]
    assert names <= set(nginx["environment"]), names - set(nginx["environment"])
    mounted = [v.split(":")[1] for v in nginx["volumes"]]
    assert "/etc/nginx/templates/graphql_app.conf.template" in mounted


def test_the_image_serves_with_the_tested_versions() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -c constraints.txt ." in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, flags=re.MULTILINE)
    assert '"python", "-m", "graphql_app", "serve"' in dockerfile
    assert "/healthz" in dockerfile
