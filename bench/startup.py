"""Start-up: seconds from spawn to the tools/list answer, against the floor of importing the SDK.

    python bench/startup.py [--runs 7]

Prints the median of both and their ratio (goal: <= 1.2). The server runs with --sandbox so no
network is involved; the floor is `import mcp.server.lowlevel, mcp.server.stdio` in a fresh
interpreter, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import SERVER, median, probe


def import_floor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server.lowlevel, mcp.server.stdio"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIFT_")}
    floors, starts = [], []
    for _ in range(args.runs):  # interleaved so that machine noise hits both alike
        floors.append(import_floor())
        starts.append(probe([*SERVER, "--sandbox"], env)["t_tools_list_s"])
    floor, start = median(floors), median(starts)
    print(
        json.dumps(
            {
                "runs": args.runs,
                "import_floor_s": floor,
                "start_to_tools_list_s": start,
                "ratio": round(start / floor, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
