"""The chat example end to end in headless Chromium (Playwright): two pages load
the page over HTTP from the example's server, connect, one sends, both show the
message; then the server shuts down and both pages show the close code (1001).
The same with ``python -m fastws chat --workers 2 --redis URL`` (a Redis started
here): two pages on different workers see each other's messages.

Needs Debian's ``chromium`` (/usr/bin/chromium, or FASTWS_CHROMIUM) and
``playwright`` (the Python package; its own browser download is not used). In CI
(CI=true) the test fails when they are missing; on a developer's machine without
them it is skipped, saying so. FASTWS_NO_BROWSER_TESTS=1 turns it off (the packaging
checks, which test builds, not the example). It saves artifacts/chat.png and
artifacts/chat-workers.png: the two pages side by side.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any, List

import pytest
from cli_helpers import Cli
from redis_helpers import RedisServer, require_redis

from fastws.cli.chat import chat_server

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("FASTWS_ARTIFACTS", ROOT / "artifacts"))
CHROMIUM = os.environ.get("FASTWS_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if os.environ.get("FASTWS_NO_BROWSER_TESTS", "") not in ("", "0"):
    pytest.skip("FASTWS_NO_BROWSER_TESTS is set", allow_module_level=True)
_HAS_BROWSER = (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)) and importlib.util.find_spec("playwright") is not None
if not _HAS_BROWSER and os.environ.get("CI", "") in ("", "0", "false"):
    pytest.skip(
        "no Chromium or playwright on this machine (apt-get install chromium; pip install playwright); CI fails here instead",
        allow_module_level=True,
    )


async def _side_by_side(context: Any, pages: List[Any], name: str) -> None:
    """Saves artifacts/NAME: screenshots of ``pages`` side by side."""
    shots = [base64.b64encode(await page.screenshot()).decode() for page in pages]
    board = await context.new_page()
    await board.set_viewport_size({"width": 1140, "height": 500})
    await board.set_content(
        "<body style='margin:0;background:#444;display:flex;gap:20px;padding:10px'>"
        + "".join(f"<img style='border:1px solid #000' src='data:image/png;base64,{shot}'>" for shot in shots)
        + "</body>"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await board.screenshot(path=str(ARTIFACTS / name))


def test_browser_prerequisites() -> None:
    assert shutil.which(CHROMIUM) or os.path.exists(CHROMIUM), (
        f"no Chromium at {CHROMIUM} (apt-get install chromium, or FASTWS_NO_BROWSER_TESTS=1)"
    )
    assert importlib.util.find_spec("playwright") is not None, (
        "playwright is not installed (pip install playwright, or FASTWS_NO_BROWSER_TESTS=1)"
    )


def test_chat_two_pages() -> None:
    from playwright.async_api import async_playwright  # fails, not skips, when missing

    async def run() -> None:
        async with chat_server("127.0.0.1", 0, ping_interval=None) as server, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                context = await browser.new_context(viewport={"width": 560, "height": 480})
                url = f"http://127.0.0.1:{server.bound_port}/"
                pages = [await context.new_page(), await context.new_page()]
                for page in pages:
                    await page.goto(url)
                    await page.wait_for_function("document.getElementById('status').textContent === 'open'", timeout=10_000)
                assert len(server.connections) == 2

                await pages[0].fill("#text", "hello from page one")
                await pages[0].click("button")
                for page in pages:
                    await page.wait_for_function(
                        "document.getElementById('log').textContent.includes('hello from page one')", timeout=10_000
                    )
                    assert await page.locator("#log p.message").count() == 1

                await server.aclose()  # 1001 Going Away to every client
                for page in pages:
                    await page.wait_for_function("document.getElementById('status').textContent.startsWith('closed')", timeout=10_000)
                    assert (await page.text_content("#status")).startswith("closed 1001")

                await _side_by_side(context, pages, "chat.png")
            finally:
                await browser.close()

    asyncio.run(asyncio.wait_for(run(), 120))
    assert (ARTIFACTS / "chat.png").stat().st_size > 1000


def test_chat_two_pages_on_two_workers(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    require_redis()
    redis = RedisServer(tmp_path).start()

    async def run() -> None:
        cli = Cli(None, "chat", "--workers", "2", "--port", "0", "--redis", redis.url)
        try:
            port = await cli.start()
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
                try:
                    context = await browser.new_context(viewport={"width": 560, "height": 480})
                    # SO_REUSEPORT spreads connections by their addresses' hash: open
                    # pages until two are on different workers.
                    on: dict = {}
                    for _ in range(16):
                        page = await context.new_page()
                        await page.goto(f"http://127.0.0.1:{port}/")
                        await page.wait_for_function("document.getElementById('worker').textContent !== '?'", timeout=10_000)
                        on.setdefault(await page.text_content("#worker"), page)
                        if len(on) == 2:
                            break
                    assert len(on) == 2, "16 pages, all on one worker"
                    pages = list(on.values())
                    assert set(on) == {str(pid) for pid in cli.workers().values()}

                    await pages[0].fill("#text", "hello from the first worker")
                    await pages[0].click("button")
                    await pages[1].fill("#text", "and back from the second")
                    await pages[1].click("button")
                    for page in pages:
                        for text in ("hello from the first worker", "and back from the second"):
                            await page.wait_for_function(f"document.getElementById('log').textContent.includes({text!r})", timeout=10_000)

                    assert await cli.stop(timeout=30) == 0  # 1001 from both workers
                    for page in pages:
                        await page.wait_for_function("document.getElementById('status').textContent.startsWith('closed')", timeout=10_000)
                        assert (await page.text_content("#status")).startswith("closed 1001")
                    await _side_by_side(context, pages, "chat-workers.png")
                finally:
                    await browser.close()
        finally:
            cli.kill()
            redis.kill()

    asyncio.run(asyncio.wait_for(run(), 120))
    assert (ARTIFACTS / "chat-workers.png").stat().st_size > 1000
