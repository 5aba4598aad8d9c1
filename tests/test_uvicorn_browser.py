"""A FastAPI WebSocket endpoint on uvicorn with fastws.uvicorn, driven by headless
Chromium (Playwright): the page connects (Chromium offers permessage-deflate, the
server accepts it), sends text and binary, gets both back, then the server closes
with a code and reason the page reports.

Needs Chromium and playwright, as tests/test_chat_browser.py does (same switches:
FASTWS_CHROMIUM, FASTWS_NO_BROWSER_TESTS, failing rather than skipping in CI), and
the ``uvicorn`` extra (see tests/uvicorn_helpers.py).
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's parameter
# types at run time.
import asyncio
from typing import Any, List

from test_chat_browser import CHROMIUM, FLAGS
from uvicorn_helpers import protocol_class, require_uvicorn, serve

require_uvicorn()

PAGE = """<!doctype html><meta charset="utf-8"><title>fastws on uvicorn</title>
<p id="status">connecting</p><p id="extensions"></p><pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  document.getElementById("status").textContent = "open";
  document.getElementById("extensions").textContent = ws.extensions;
  ws.send("héllo ".repeat(2000));
  ws.send(new Uint8Array([0, 1, 2, 255]).buffer);
};
ws.onmessage = (event) => log(typeof event.data === "string"
  ? "text " + event.data.length + " " + event.data.slice(0, 12)
  : "binary " + Array.from(new Uint8Array(event.data)).join(","));
ws.onclose = (event) => { document.getElementById("status").textContent = "closed " + event.code + " " + event.reason; };
</script>"""


def make_app(seen: List[Any]) -> Any:
    from fastapi import FastAPI, WebSocket
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def echo_twice_then_close(websocket: WebSocket) -> None:
        await websocket.accept()
        seen.append(dict(websocket.headers))
        text = await websocket.receive_text()
        await websocket.send_text(text)
        data = await websocket.receive_bytes()
        await websocket.send_bytes(data[::-1])
        await websocket.close(4000, "done")

    app.add_api_websocket_route("/ws", echo_twice_then_close)
    return app


def test_chromium_talks_to_fastapi(impl: Any) -> None:
    from playwright.async_api import async_playwright  # fails, not skips, when missing

    seen: List[Any] = []

    async def main() -> None:
        async with serve(make_app(seen), protocol_class(impl)) as (_, port), async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            try:
                page = await browser.new_page()
                await page.goto(f"http://127.0.0.1:{port}/")
                await page.wait_for_function("document.getElementById('status').textContent.startsWith('closed')", timeout=15_000)
                log = await page.text_content("#log")
                assert log == "text 12000 héllo héllo \nbinary 255,2,1,0\n", log
                assert await page.text_content("#status") == "closed 4000 done"
                agreed = await page.text_content("#extensions")
                assert agreed == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", agreed
            finally:
                await browser.close()
        offer = seen[0]["sec-websocket-extensions"]
        assert "permessage-deflate" in offer and "client_max_window_bits" in offer

    asyncio.run(asyncio.wait_for(main(), 120))
