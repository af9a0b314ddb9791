"""On-disk cache of the tool specs built from the bundled spec.

Building 220 tool specs from the 1.8 MB spec takes ~70 ms; reading them back takes a few. The key
covers everything the result depends on: this package's version and factory modules, the spec
file (size and modification time) and ``max_items``. Anything unexpected (unwritable directory,
corrupt or foreign file) means a rebuild, never an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

logger = logging.getLogger("chift_mcp.tools.cache")
_FACTORY_MODULES = (
    "../openapi/spec.py",
    "../openapi/operations.py",
    "../openapi/schemas.py",
    "definition.py",
    "factory.py",
    "cache.py",
)
_FORMAT = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chift-mcp"


def key_for(spec_file: Path, **inputs: Any) -> str:
    from chift_mcp.version import __version__

    here = Path(__file__).parent
    parts = [str(_FORMAT), __version__, _stamp(spec_file), *(f"{k}={v}" for k, v in sorted(inputs.items()))]
    parts += [_stamp(here / name) for name in _FACTORY_MODULES]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def cached(spec_file: Path, build: Callable[[], T], **inputs: Any) -> T:
    """``build()``'s result for these inputs, from the cache when a previous run stored it."""
    key = key_for(spec_file, **inputs)
    value = load(key)
    if value is None:
        value = build()
        store(key, value)
    return value


def load(key: str) -> Any:
    path = cache_dir() / f"tools-{key}.pickle"
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # our own file, written below, in the user's cache directory
    except FileNotFoundError:
        return None
    except Exception as exc:  # a corrupt or foreign cache file: rebuild
        logger.debug("ignoring unreadable tool cache %s: %s", path, type(exc).__name__)
        return None


def store(key: str, value: Any) -> None:
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tools-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, directory / f"tools-{key}.pickle")
    except OSError as exc:
        logger.debug("tool cache not written (%s)", exc.strerror)
