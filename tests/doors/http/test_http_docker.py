"""The Dockerfile cannot be built here (no Docker engine): check that it agrees with the code."""

from __future__ import annotations

import re
from pathlib import Path

from chift_mcp.cli import _parser

ROOT = Path(__file__).resolve().parents[3]


def test_dockerfile_runs_the_http_door_as_a_non_root_user_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    final = text.split("\nFROM ")[-1]  # the runtime stage
    http = _parser().parse_args(["http"])
    assert re.search(r"^USER app$", final, re.M) and "useradd" in final
    assert f"EXPOSE {http.port}" in final
    assert f"127.0.0.1:{http.port}/healthz" in final and "HEALTHCHECK" in final
    assert 'CMD ["chift-mcp", "http", "--host", "0.0.0.0"]' in final
    assert "torch" not in text.replace("no torch", "")  # the search extra needs none
    assert 'pip install ".[search]"' in text and "pip install ." in text


def test_dockerignore_keeps_secrets_and_environments_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", ".venv-lc", "tests"} <= ignored
