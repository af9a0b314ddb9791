"""Token configuration: hashes only, strict parsing, the ``chift-mcp token new`` helper."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chift_mcp.doors.http.tokens import (
    Grant,
    TokenTable,
    hash_token,
    load_tokens_file,
    parse_entry,
    token_entry,
)
from chift_mcp.errors import ConfigError
from chift_mcp.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DEMO = "11111111-1111-4111-8111-111111111111"


def test_verify_finds_the_grant_of_a_token_and_nothing_else() -> None:
    table = TokenTable([(hash_token("a" * 30), Grant("a")), (hash_token("b" * 30), Grant("b", DEMO))])
    assert table.verify("a" * 30) == Grant("a")
    assert table.verify("b" * 30) == Grant("b", DEMO)
    for wrong in ("", "a" * 29, "a" * 31, hash_token("a" * 30), "A" * 30):
        assert table.verify(wrong) is None


def test_settings_token_and_file_combine(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([{"name": "bot", "token_sha256": hash_token("t" * 40), "read_only": True}]))
    table = TokenTable.from_settings(Settings(mcp_token="s" * 32, mcp_tokens_file=str(path)))
    assert len(table) == 2
    assert table.verify("s" * 32) == Grant("default")
    assert table.verify("t" * 40) == Grant("bot", read_only=True)
    assert "s" * 32 not in repr(table.__dict__)  # only digests are kept


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "token": "plain"}, "never the token"),
        ({"name": "x", "token_sha256": "abc"}, "64 hexadecimal"),
        ({"token_sha256": "0" * 64}, "name must be"),
        ({"name": "x", "token_sha256": "0" * 64, "consumer_id": "../x"}, "consumer id"),
        (
            {"name": "x", "token_sha256": "0" * 64, "function_config": {"acounting": ["get"]}},
            "unknown domain",
        ),
        (
            {"name": "x", "token_sha256": "0" * 64, "function_config": {"accounting": ["read"]}},
            "unknown kind",
        ),
        ({"name": "x", "token_sha256": "0" * 64, "read_only": "yes"}, "true or false"),
        ({"name": "x", "token_sha256": "0" * 64, "scopes": []}, "unknown key 'scopes'"),
    ],
)
def test_bad_entries_are_one_clear_error(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_entry(entry)


def test_duplicate_names_and_hashes_are_refused() -> None:
    digest = hash_token("x" * 30)
    with pytest.raises(ConfigError, match="used by two tokens"):
        TokenTable([(digest, Grant("a")), (hash_token("y" * 30), Grant("a"))])
    with pytest.raises(ConfigError, match="same token_sha256"):
        TokenTable([(digest, Grant("a")), (digest, Grant("b"))])


def test_the_shipped_example_file_is_valid() -> None:
    entries = load_tokens_file(ROOT / "configs" / "tokens.example.json")
    grants = {grant.name: grant for _, grant in entries}
    assert grants["claude-desktop-bookkeeper"].consumer_id == DEMO
    assert grants["claude-desktop-bookkeeper"].kinds == {
        "accounting": frozenset({"get", "create"}),
        "invoicing": frozenset({"get"}),
    }
    assert grants["reporting-bot"].read_only


def test_token_new_prints_a_token_once_and_an_entry_that_verifies_it() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chift_mcp",
            "token",
            "new",
            "--name",
            "bookkeeper",
            "--consumer-id",
            DEMO,
            "--function-config",
            '{"accounting": ["get", "add"]}',
            "--read-only",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    token = lines[1]
    entry = json.loads(lines[-1])
    assert token.startswith("cmcp_") and len(token) >= 40 and proc.stdout.count(token) == 1
    digest, grant = parse_entry(entry)
    assert TokenTable([(digest, grant)]).verify(token) == grant
    assert grant == Grant("bookkeeper", DEMO, (("accounting", frozenset({"get", "create"})),), read_only=True)


def test_token_entry_refuses_bad_function_config_json() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        token_entry("x", "t" * 30, function_config="{accounting: get}")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["http"], {}, "needs bearer tokens"),
        (["http", "--host", "0.0.0.0", "--auth", "none"], {}, "refused on the non-loopback address"),
        (["http"], {"CHIFT_MCP_TOKEN": "too-short"}, "too short"),
        (["http"], {"CHIFT_MCP_TOKENS_FILE": "/nonexistent/tokens.json"}, "cannot be read"),
    ],
)
def test_start_up_refusals_are_one_line_and_exit_2(
    args: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chift_mcp.cli import EXIT_CONFIG, main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(["--sandbox", *args])
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG == 2, err
    assert message in err and err.count("\n") == 1 and err.startswith("chift-mcp: ")
