"""The runtime strategy flag: switch every process between selective/full/cached live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from agentload import keys
from agentload.api.answers import StrategyState
from agentload.api.auth import require_token
from agentload.api.failures import AUTH, BODY, REDIS_DOWN, VALIDATION
from agentload.api.responses import ORJSONResponse
from agentload.api.routes.deps import runtime
from agentload.api.runtime import Runtime
from agentload.api.schemas import StrategyBody

router = APIRouter(tags=["flags"])


@router.get("/api/v1/flags/strategy", response_model=StrategyState, summary="Current loading strategy",
            responses={503: REDIS_DOWN})
async def get_strategy(rt: Runtime = Depends(runtime)) -> Any:
    raw = await rt.redis.get(keys.STRATEGY)
    source = "redis" if raw else "settings"
    return ORJSONResponse({"strategy": await rt.store.get_strategy(), "source": source})


@router.put("/api/v1/flags/strategy", response_model=StrategyState,
            summary="Set the loading strategy (every API and MCP process follows on its next request)",
            dependencies=[Depends(require_token)],
            responses={**AUTH, **BODY, 422: VALIDATION, 503: REDIS_DOWN})
async def put_strategy(body: StrategyBody, rt: Runtime = Depends(runtime)) -> Any:
    await rt.store.set_strategy(body.strategy)
    return ORJSONResponse({"strategy": body.strategy, "source": "redis"})
