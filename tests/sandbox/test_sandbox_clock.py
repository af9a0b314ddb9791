"""The sandbox's clock: the wall clock plus advances, or held so that tests decide when sleeps end."""

from __future__ import annotations

import time

import anyio
import pytest

from chift_mcp.sandbox.clock import Clock

pytestmark = pytest.mark.anyio


async def test_a_free_clock_follows_the_wall_clock_plus_its_advances() -> None:
    clock = Clock()
    clock.advance(100)
    assert 99 < clock.now() - time.time() <= 100


async def test_a_held_clock_moves_only_when_advanced() -> None:
    clock = Clock()
    clock.hold()
    start = clock.now()
    clock.advance(2.5)
    assert clock.now() == start + 2.5


async def test_sleeps_on_a_held_clock_end_when_time_passes_their_end() -> None:
    clock = Clock()
    clock.hold()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sleeper, "short", 1)
            tg.start_soon(sleeper, "long", 3)
            await clock.sleepers(2)
            clock.advance(0.5)
            await anyio.wait_all_tasks_blocked()
            assert woke == []
            clock.advance(0.5)
            await anyio.wait_all_tasks_blocked()
            assert woke == ["short"]
            clock.advance(2)
    assert woke == ["short", "long"]


async def test_a_cancelled_sleep_is_forgotten() -> None:
    clock = Clock()
    clock.hold()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(clock.sleep, 10)
            await clock.sleepers(1)
            tg.cancel_scope.cancel()
        seen: list[bool] = []

        async def wait_for_one() -> None:
            await clock.sleepers(1)
            seen.append(True)

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_for_one)
            await anyio.wait_all_tasks_blocked()
            assert seen == []  # the cancelled sleep no longer counts
            tg.start_soon(clock.sleep, 1)
            await anyio.wait_all_tasks_blocked()
            assert seen == [True]
            clock.advance(1)


async def test_sleepers_needs_a_held_clock() -> None:
    with pytest.raises(RuntimeError, match="hold"):
        await Clock().sleepers(1)
