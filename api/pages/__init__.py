"""Server-rendered pages for officers, supervisors, recorders and the public (docs/pages.md).

`router` holds every page; `STATIC_DIR` is the folder of the pages' own stylesheet, served
under `/static/pages`.
"""

from fastapi import APIRouter

from api.pages import board, dashboards, intake, issue, meetings, public
from api.pages.web import STATIC_DIR

router = APIRouter(include_in_schema=False)
for module in (public, board, issue, intake, meetings, dashboards):
    router.include_router(module.router)

__all__ = ["STATIC_DIR", "router"]
