"""Which asyncio event loop `serve` runs on: uvloop where installed, else the standard one.

uvloop runs the same aiohttp server with about a quarter less CPU per webhook (ADR 4).
NIGHTSHIFT_EVENT_LOOP=asyncio is the way back to the standard loop, should a loop
problem ever be suspected.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory(choice: str) -> tuple[str, LoopFactory]:
    """The loop's name and a factory for it; ValueError for an unknown or missing loop."""
    if choice not in CHOICES:
        raise ValueError(
            f"NIGHTSHIFT_EVENT_LOOP must be one of {', '.join(CHOICES)}, got {choice!r}"
        )
    if choice != "asyncio":
        try:
            uvloop = importlib.import_module("uvloop")
        except ImportError:
            if choice == "uvloop":
                raise ValueError(
                    "NIGHTSHIFT_EVENT_LOOP=uvloop, but uvloop is not installed"
                ) from None
        else:
            factory: LoopFactory = uvloop.new_event_loop
            return "uvloop", factory
    return "asyncio", asyncio.new_event_loop
