"""The README and the docs site cannot drift from the code: the settings table, the module map and the
tool catalogue are generated or checked against it, and the README's test command is CI's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chift_mcp.settings import settings_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_settings_table_matches_the_settings() -> None:
    block = re.search(
        r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", page("configure.md"), re.S
    )
    assert block, "docs/configure.md lost its settings-table markers"
    assert block.group(1) == settings_table(), (
        "regenerate with: python -c 'from chift_mcp.settings import settings_table; print(settings_table())'"
    )


def test_ci_runs_the_readme_test_command_before_installing_anything_else() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert len(commands) >= 2 and "chift-mcp --sandbox" in commands[0]
    steps = [step.strip() for step in commands[1].split("&&")]
    assert steps[-1] == "python -m pytest"

    def bare(line: str) -> str:  # CI spells pip `python -m pip ... -q`
        return re.sub(r"^python -m pip ", "pip ", line).replace(" -q ", " ")

    ci = [bare(line.strip()) for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    ci = [line for line in ci if line and not line.startswith("#")]
    at = [ci.index(step) for step in steps]  # each step of the README's command, as CI runs it
    assert at == sorted(at), "CI runs the README's steps in another order"
    installs = [
        i for i, line in enumerate(ci) if line.startswith("pip install") and "--upgrade pip" not in line
    ]
    assert installs[0] == at[steps.index('pip install -e ".[dev]"')]
    assert all(i > at[-1] for i in installs[1:]), "CI installs something before the README's pytest"


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
        assert f"`CHIFT_{name}`" in page("configure.md")


def test_the_module_map_names_every_module_once() -> None:
    """docs/architecture.md is the map: one line per module of chift_mcp/ (sandbox/ as one)."""
    block = re.search(
        r"<!-- module-map:start -->\n(.*?)\n<!-- module-map:end -->", page("architecture.md"), re.S
    )
    assert block, "docs/architecture.md lost its module-map markers"
    named = re.findall(r"`([a-z_/]+(?:\.py|/))`", block.group(1))
    package = ROOT / "chift_mcp"
    modules = {
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and p.parent.name != "sandbox"
    } | {"sandbox/"}
    assert sorted(set(named)) == sorted(named), "a module is named twice"
    assert set(named) == modules, (sorted(modules - set(named)), sorted(set(named) - modules))


def test_the_tool_catalogue_matches_the_tools(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chift_mcp.cli import main

    assert main(["tools", "--markdown"]) == 0
    assert capsys.readouterr().out == page("tools.md"), (
        "regenerate: chift-mcp tools --markdown > docs/tools.md"
    )


def test_every_docs_page_is_in_the_site_and_the_readme_stays_short() -> None:
    nav = re.findall(r"^  - [^:]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    assert sorted(nav) == sorted(p.name for p in DOCS.glob("*.md"))
    assert len(README.splitlines()) <= 250
    for link in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (ROOT / link).is_file(), link
