"""The recorder's visit log: write down what a household said, on a phone, in the field.

The form posts to the JSON API's `record_opinion` with its `OpinionCreate` schema, so the
same bounds and rules apply; the contact goes to the contact store, never into the log.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import ValidationError

from api import schemas
from api.deps import RECORDERS, wait_for
from api.pages.web import FormDep, Page, PageDep, PageRoute, fields, idempotency_key, problem, refill
from api.routes.opinions import record_opinion
from domain.errors import CaselineError
from domain.rules import Area, Channel, Kind
from projections import queries

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _form(page: Page, status: int = 200, **context: object) -> Response:
    who = page.require(*RECORDERS)
    mine = queries.unanswered(page.svc.projector.db, now=page.now(), recorder=who.name, limit=20)
    values = context.pop("values", {})
    return page.render(
        "intake.html", status, kinds=list(Kind), areas=list(Area), channels=list(Channel),
        values=values, mine=mine, **context,
    )  # fmt: skip


@router.get("/intake")
def intake(page: PageDep) -> Response:
    return _form(page)


@router.post("/intake")
def record(page: PageDep, form: FormDep) -> Response:
    who = page.require(*RECORDERS)
    page.check(form)
    values = refill(form)
    data = fields(form, schemas.OpinionCreate)
    contact = fields(form, schemas.ContactIn)
    if contact:
        data["contact"] = contact
    for name in ("latitude", "longitude"):
        if name in data:
            try:
                data[name] = float(data[name])
            except ValueError:
                data[name] = "?"
    try:
        body = schemas.OpinionCreate.model_validate(data)
        answer = record_opinion(body, page.svc, who, idempotency_key(form))
    except ValidationError as error:
        return _form(page, 422, values=values, error=problem(page, error))
    except CaselineError as error:
        return _form(page, 422, values=values, error=page.refusal(error))
    position = answer["position"]
    wait_for(page.svc, position if isinstance(position, int) else None)
    kept = {k: values[k] for k in ("kind", "area", "channel", "unit") if k in values}
    return _form(page, values=kept, flash=page.t("Recorded (reference {ref}).", ref=str(answer["id"])[:8]))
