"""The routers of the API: JSON answers exactly as the models say, nothing added."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute

from vidsync.api.errors import COMMON_ERRORS


class WireRoute(APIRoute):
    """A route whose answer leaves out optional fields its handler did not set, so
    ``snapshotUrl`` appears only on completion, ``pathBase64`` only where needed."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().__init__(path, endpoint, **kwargs)


def api_router() -> APIRouter:
    return APIRouter(prefix="/api/v1", responses=COMMON_ERRORS, route_class=WireRoute)
