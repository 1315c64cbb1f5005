"""The SQLite writer lock: one holder at a time, intake's fast lane first, FIFO within a lane."""

from __future__ import annotations

import asyncio

from bot.adapters.db.writer_lock import WriterLock


async def test_urgent_waiters_go_before_others_and_order_is_kept() -> None:
    lock = WriterLock()
    order: list[str] = []
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with lock.hold():
            holding.set()
            await release.wait()
            order.append("first")

    async def worker(name: str, urgent: bool) -> None:
        async with lock.hold(urgent=urgent):
            order.append(name)
            await asyncio.sleep(0)

    holder = asyncio.create_task(first())
    await holding.wait()
    waiters = [
        asyncio.create_task(worker("tick-1", False)),
        asyncio.create_task(worker("intake-1", True)),
        asyncio.create_task(worker("tick-2", False)),
        asyncio.create_task(worker("intake-2", True)),
    ]
    await asyncio.sleep(0.01)
    assert order == []  # nobody got in while the first holder had it
    release.set()
    await asyncio.gather(holder, *waiters)
    assert order == ["first", "intake-1", "intake-2", "tick-1", "tick-2"]


async def test_a_cancelled_waiter_does_not_keep_the_lock() -> None:
    lock = WriterLock()
    async with lock.hold():
        waiter = asyncio.create_task(lock.hold().__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
    await asyncio.sleep(0)
    async with asyncio.timeout(1):
        async with lock.hold(urgent=True):
            pass
