"""``/docs`` and ``/redoc`` work offline: every asset they load is served by the API itself."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import redis

from agentload.api.app import create_app
from agentload.settings import Settings


async def test_given_no_network_when_opening_docs_then_every_asset_comes_from_the_api(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    app = create_app(Settings(env="test", redis_url=redis_url, database_url=f"sqlite:///{tmp_path / 'db'}"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://test") as http:
        for page in ("/docs", "/redoc"):
            html = await http.get(page)
            assert html.status_code == 200 and "text/html" in html.headers["content-type"]
            assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
            assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
            for asset in assets:
                got = await http.get(asset)
                assert got.status_code == 200 and len(got.content) > 100, asset
        spec = await http.get("/openapi.json")
        assert spec.status_code == 200 and "/api/v1/agents/optimized-loading" in spec.json()["paths"]
