"""Every router the app includes, one module per resource (API) or page group (dashboard).

A new module adds its ``router`` here; the order is the order of the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
