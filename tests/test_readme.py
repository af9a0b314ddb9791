"""The README cannot drift from the code: its settings table is generated, its test command is CI's."""

from __future__ import annotations

import re
from pathlib import Path

from chift_mcp.settings import settings_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_settings_table_matches_the_settings() -> None:
    block = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", README, re.S)
    assert block, "README lost its settings-table markers"
    assert block.group(1) == settings_table(), (
        "regenerate with: python -c 'from chift_mcp.settings import settings_table; print(settings_table())'"
    )


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert len(commands) >= 2 and "chift-mcp --sandbox" in commands[0]
    test_command = commands[1].split("&&")[-1].strip()
    assert test_command == "python -m pytest"
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_env_name_of_the_official_server_is_kept() -> None:
    for name in (
        "CLIENT_ID",
        "CLIENT_SECRET",
        "ACCOUNT_ID",
        "CONSUMER_ID",
        "URL_BASE",
        "MARKETPLACE_ID",
        "FUNCTION_CONFIG",
        "SEARCH",
    ):
        assert f"`CHIFT_{name}`" in README


def test_the_module_map_names_every_module_once() -> None:
    """The README's "How it is built" is the map: one line per module of chift_mcp/ (sandbox/ as one)."""
    block = re.search(r"<!-- module-map:start -->\n(.*?)\n<!-- module-map:end -->", README, re.S)
    assert block, "README lost its module-map markers"
    named = re.findall(r"`([a-z_/]+(?:\.py|/))`", block.group(1))
    package = ROOT / "chift_mcp"
    modules = {
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and p.parent.name != "sandbox"
    } | {"sandbox/"}
    assert sorted(set(named)) == sorted(named), "a module is named twice"
    assert set(named) == modules, (sorted(modules - set(named)), sorted(set(named) - modules))
