"""Regenerate the README pictures: ``uv run python -m kitchen.tui.screenshots [OUT_DIR]``.

The same deterministic scenes as the snapshot tests (frozen clock, seeded orders, fake ovens, time zone
pinned to UTC), exported as SVG into ``screenshots/``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from . import scenes
from .tour_scenes import TOUR_SCENES

SHOTS = (  # (file, scene, size, caption)
    ("empty.svg", "empty", (160, 48), "The shop opens: three ovens share the 64 buckets of the ring"),
    ("rush.svg", "rush", (160, 48), "After a rush: ovens cooking, the ledger filling, a repeated order absorbed"),
    ("killed.svg", "killed", (160, 48), "oven-2 killed: declared dead, its order requeued, only its buckets moved"),
    ("refused.svg", "refused", (160, 48), "oven-2 thawed as a zombie: its late completion refused by the fence"),
    ("narrow.svg", "killed", (80, 24), "The same recovery in an 80x24 terminal"),
    ("stolen.svg", "stolen", (160, 48),
     "oven-2's buckets are empty: it takes the pizzas waiting behind oven-1's calzone"),
    ("slots.svg", "slots", (160, 48),
     "oven-1 runs with --concurrency 4: one slot per order, each with its progress; ada's lane cooks one at a time"),
    ("tour-recovery.svg", "5-recovery", (160, 48),
     "kitchen tour, 5 / 9: oven-2 killed; the tour saw it declared dead and only its buckets move on the ring"),
    ("tour-fence.svg", "7-fence", (160, 48),
     "kitchen tour, 7 / 9: the zombie's late completion refused by the fence"),
    ("tour-scaling.svg", "9-scaling", (160, 48), "kitchen tour, 9 / 9: a fourth oven and a second shop join the ring"),
    ("tour-narrow.svg", "5-recovery", (80, 24),
     "kitchen tour in an 80x24 terminal: the text wraps, the ring is a grid"),
)


async def _shoot(scene: str, size: tuple[int, int], title: str, directory: str) -> str:
    build = scenes.SCENES.get(scene) or TOUR_SCENES[scene]
    app = build(directory).app()
    async with app.run_test(size=size) as pilot:
        deadline = time.monotonic() + 10
        while not (app.reads and app.idle):
            if time.monotonic() > deadline:
                raise RuntimeError(f"scene {scene}: the first refresh never arrived")
            await pilot.pause(0.02)
        await pilot.pause()
        svg = app.export_screenshot(title=title)
    app.kitchen.close()
    return svg


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    os.environ["TZ"] = "UTC"
    time.tzset()
    for name, scene, size, caption in SHOTS:
        with tempfile.TemporaryDirectory() as directory:
            svg = asyncio.run(_shoot(scene, size, f"kitchen — {caption}", directory))
        (out / name).write_text(svg, encoding="utf-8")
        print(f"{out / name}: {caption}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
