"""What the app does when it starts."""

from __future__ import annotations

import gc

from starlette.applications import Starlette


async def test_start_up_moves_long_lived_objects_out_of_the_collectors_sight(
    app: Starlette,
) -> None:
    """A full collection of the built app took 20-30 ms, a pause any request could
    land on (bench/README.md); frozen at start-up, it walks only request garbage."""
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
