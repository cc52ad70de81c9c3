"""Every router the app includes, one module per resource (API) or page group (dashboard).

A new module adds its ``router`` here; the order is the order of the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import APIRouter

from leadlink.web.pages import activity as pages_activity
from leadlink.web.pages import auth as pages_auth
from leadlink.web.pages import claims as pages_claims
from leadlink.web.pages import model as pages_model
from leadlink.web.pages import ops as pages_ops
from leadlink.web.pages import persons as pages_persons
from leadlink.web.pages import review as pages_review
from leadlink.web.pages import search as pages_search
from leadlink.web.routes import (
    api_activity,
    api_alerts,
    api_backlog,
    api_claims,
    api_gap,
    api_jobs,
    api_lead_post,
    api_leads,
    api_persons,
    api_recovery,
    api_review,
    api_search,
    api_unmatched,
    api_writes,
)

ROUTERS: list[APIRouter] = []
ROUTERS.append(api_lead_post.router)
ROUTERS.append(api_writes.router)
READ_API = (api_leads, api_persons, api_unmatched, api_review, api_recovery, api_backlog,
            api_gap, api_claims, api_activity, api_alerts, api_jobs, api_search)  # fmt: skip
ROUTERS.extend(m.router for m in READ_API)
ROUTERS.extend(m.router for m in (pages_auth, pages_ops, pages_claims, pages_activity,
                                  pages_review, pages_persons, pages_search))  # fmt: skip
ROUTERS.append(pages_model.router)
