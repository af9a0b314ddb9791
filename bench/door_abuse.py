"""One caller against the HTTP door, on loopback against real processes, in numbers.

    python bench/door_abuse.py [--only flood,headers,heads,drain] [--keep DIR]

The scenarios of ``tests/support/abuse.py`` (asserted by ``tests/adversarial/test_attack_door.py``):

- flood: a read-only token bound to one consumer (5 calls a minute), then one without a rate limit,
  each sending 1,500 ``initialize`` requests, 8 at a time; another tenant opens a session and calls
  meanwhile and after; the server's RSS before and after;
- headers: an unbound token (5 a minute) with a fresh made-up ``X-Chift-Consumer-Id`` on each of 100
  requests, then 20 calls for a real consumer: what reached Chift;
- heads: 1,100 connections that send half a request head (no token), a probe and a call meanwhile,
  how soon the server closes them; then 20 requests with a 1 MB header line; RSS;
- drain: SIGTERM while 12 creates (and a program, with code mode) wait on a Chift that takes 7 s.

Prints one JSON object per scenario. About three minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.abuse import consumer_headers, drain, session_flood, slow_heads  # noqa: E402

SCENARIOS = {"flood": session_flood, "headers": consumer_headers, "heads": slow_heads, "drain": drain}


async def run(only: list[str], keep: str | None) -> None:
    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="chift-door-abuse-"))
    for name in only:
        started = time.monotonic()
        out = await SCENARIOS[name](base / name)
        print(
            json.dumps({"scenario": name, "seconds": round(time.monotonic() - started, 1), **out}), flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--keep", help="directory for the processes' stderr")
    args = parser.parse_args()
    asyncio.run(run([s.strip() for s in args.only.split(",") if s.strip()], args.keep))


if __name__ == "__main__":
    main()
