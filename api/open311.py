"""Open311 GeoReport v2 under `/open311/v2/`, in XML and JSON (http://wiki.open311.org/GeoReport_v2).

The format is the path's extension, as the specification has it: `services.xml`,
`requests/{id}.json`. Every answer, errors included, is UTF-8; XML starts with its
declaration; dates are W3C date-times in UTC (`2026-03-03T09:00:00Z`); errors are the spec's
`[{"code": 400, "description": "..."}]` / `<errors><error>…</error></errors>` with its status
codes (404 unknown resource, 403 wrong api_key, 400 anything else; 429 when an anonymous
client sends too much).

Services are the kinds of voice times the six areas (`difficulty-security`, …; see
`projections.open311.service_code`). A request becomes an opinion through
`Workflow.record_opinion`, the command every other channel uses: channel `online`,
recorder `open311`, the unit of the grid its lat/long falls in (`CASELINE_OPEN311_GRIDS`) or
`CASELINE_OPEN311_DEFAULT_UNIT`, the reporter's name, phone and email only in `contact=`
(the contact store, never the log), description and attribute answers in the opinion's
private text.

Decisions (docs/open311.md says the same for client developers):
- **api_key**: a valid key (an account's API key, checked by the credential store) makes the
  request the account's; a wrong or revoked key is a 403. A request with no key at all is
  accepted when `CASELINE_OPEN311_ANONYMOUS` is on (the default: people reach us through apps
  that have no key, and the web form accepts them too) — rate limited per client like the
  public form, and answered with a token, because it awaits triage.
- **Tokens**: a request is listed (`GET requests`) at once only when a key-holder sends it to a
  `realtime` service. Anonymous requests and requests to the `batch` services (neighbour
  disputes, a family's disaster: matters of one household) await triage: the POST answers a
  token, `tokens/{token}` answers `service_request_id` once staff have routed the opinion or
  merged it into an issue (before that, the token with an empty `service_request_id`). Tokens
  are derived from the opinion id (`projections.open311.token_for`): no extra store.
- **Privacy**: GETs read only the `open311` view, which holds the location and `media_url` a
  submitter sent to a `realtime` service (the spec publishes them) and what officers
  disclosed: `status_notes` is the latest disclosed outcome, resolution, progress or note;
  `agency_responsible` the disclosed department; `expected_datetime` the disclosed deadline;
  `description` the disclosed title. For `batch` services not even the location is shown.
- **Status**: see `projections.open311.STATUS_SQL` (open until the issue it was merged into is
  closed, or registered and explained to the reporter; unmerged, closed once routed "fix at
  once" or "register and explain" and answered).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from api.deps import IdempotencyKey, Services, ServicesDep, run_command
from api.errors import status_for
from api.security import ANONYMOUS
from domain.contacts import Contact
from domain.errors import CaselineError, NotFoundError
from domain.rules import MAX_NAME, MAX_TEXT, Actor, Area, Channel, Kind, Role
from projections import open311 as view
from projections.store import from_iso

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-03-01T00:00:00Z"  # when the service list or a definition last changed
FORMATS = ["text/xml", "application/json"]
WINDOW = timedelta(days=90)
MAX_BODY = 64 * 1024
MAX_FIELDS = 200
MAX_IDS = 200
CATCH_UP_SECONDS = 2.0

Fmt = Literal["json", "xml"]
Status = Literal["open", "closed"]
Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]

# -- the service catalogue --------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """One question a service definition asks (or, with variable=False, a notice it shows)."""

    code: str
    datatype: Datatype
    description: str
    required: bool = False
    variable: bool = True
    datatype_description: str | None = None
    values: tuple[tuple[str, str], ...] = ()
    limit: int = 200


@dataclass(frozen=True)
class Service:
    """One Open311 service: a kind of voice in one area."""

    code: str
    kind: Kind
    area: Area
    name: str
    description: str
    keywords: str
    group: str
    type: Literal["realtime", "batch"]
    notice: str
    attributes: tuple[Attribute, ...]

    @property
    def public_details(self) -> bool:
        """Whether location and media of its requests may be published (realtime services only)."""
        return self.type == "realtime"


KINDS: dict[Kind, tuple[str, str, str]] = {
    Kind.OPINION: ("Opinion", "意见", "An opinion on how things are run"),
    Kind.SUGGESTION: ("Suggestion", "建议", "A suggestion for doing something better"),
    Kind.DIFFICULTY: ("Difficulty", "困难", "A difficulty people face, e.g. a dark lane"),
    Kind.DISPUTE: ("Neighbour dispute", "邻里纠纷", "A dispute between neighbours or households"),
    Kind.DISASTER: ("Disaster or accident", "灾害事故", "A disaster or an accident"),
}  # fmt: skip
AREAS: dict[Area, tuple[str, str, str]] = {
    Area.DEVELOPMENT: ("development", "发展", "jobs, business, roads, building"),
    Area.ENVIRONMENT: ("environment", "环境", "cleanliness, waste, water, green space"),
    Area.SECURITY: ("public security", "平安", "safety, street lighting, traffic, order"),
    Area.LIVELIHOOD: ("daily life", "民生", "housing, health, care, everyday services"),
    Area.CULTURE: ("culture", "文化", "culture, education, sport"),
    Area.CONDUCT: ("cadres' conduct", "作风", "how officials and cadres behave"),
}
BATCH_KINDS = (Kind.DISPUTE, Kind.DISASTER)
W3C_HELP = "A date and time with its time zone, e.g. 2026-03-01T08:00:00+08:00."
HOUSEHOLDS = Attribute(
    "households", "number", "How many households does it affect?", datatype_description="A number, e.g. 3."
)
ATTRIBUTES: dict[Kind, tuple[Attribute, ...]] = {
    Kind.DIFFICULTY: (
        HOUSEHOLDS,
        Attribute("since", "datetime", "Since when has it been so?", datatype_description=W3C_HELP),
        Attribute(
            "landmark", "string", "A landmark near the place.",
            datatype_description="One line, at most 200 characters.",
        ),
    ),
    Kind.DISPUTE: (
        Attribute(
            "parties", "number", "How many households are party to it?",
            datatype_description="A number, e.g. 2."
        ),
        Attribute(
            "history", "text", "What has been tried so far?",
            datatype_description="Free text, at most 1000 characters.", limit=1000,
        ),
    ),
    Kind.DISASTER: (
        Attribute(
            "notice", "string", "In an emergency call 110 (police), 119 (fire) or 120 (ambulance) first.",
            variable=False,
        ),
        Attribute(
            "injured", "singlevaluelist", "Was anyone hurt?", required=True,
            values=(("yes", "Yes"), ("no", "No"), ("unknown", "Not known")),
        ),
        Attribute(
            "needs", "multivaluelist", "What help is needed now?",
            values=(("shelter", "Shelter"), ("food", "Food and water"), ("medical", "Medical care"),
                    ("repair", "Repairs"), ("other", "Something else")),
        ),
        HOUSEHOLDS,
    ),
}  # fmt: skip
NOTICES = {
    "realtime": "Recorded in the feedback tracker of the grid it falls in. The analysis meeting decides "
    "how it is handled; its progress is published on the public register.",
    "batch": "Recorded for staff to look at before anything is published; the place, photo and details "
    "stay private. Keep the token: it gives the service_request_id once the request is triaged.",
}


def _service(kind: Kind, area: Area) -> Service:
    kind_name, kind_zh, kind_text = KINDS[kind]
    area_name, area_zh, area_text = AREAS[area]
    kind_type: Literal["realtime", "batch"] = "batch" if kind in BATCH_KINDS else "realtime"
    return Service(
        code=view.service_code(kind.value, area.value),
        kind=kind,
        area=area,
        name=f"{kind_name}: {area_name} ({kind_zh} · {area_zh})",
        description=f"{kind_text}, in the area of {area_name} ({area_text}).",
        keywords=", ".join((kind_name.lower(), area_name, kind_zh, area_zh, area_text)),
        group=area_name,
        type=kind_type,
        notice=NOTICES[kind_type],
        attributes=ATTRIBUTES.get(kind, ()),
    )


SERVICES: dict[str, Service] = {s.code: s for s in (_service(k, a) for k in Kind for a in Area)}

# -- documented shapes (the OpenAPI document; answers are built to match them) --------------------


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Doc):
    code: int
    description: str


class EndpointOut(_Doc):
    specification: str
    url: str
    changeset: str
    type: Literal["production", "test"]
    formats: list[str]


class DiscoveryOut(_Doc):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointOut]


class ServiceOut(_Doc):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class ValueOut(_Doc):
    key: str
    name: str


class AttributeOut(_Doc):
    variable: bool
    code: str
    datatype: Datatype
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[ValueOut]


class ServiceDefinitionOut(_Doc):
    service_code: str
    attributes: list[AttributeOut]


class SubmittedOut(_Doc):
    """service_request_id or token, never both (the spec)."""

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str | None
    account_id: str | None


class TokenOut(_Doc):
    service_request_id: str | None
    token: str


class RequestOut(_Doc):
    service_request_id: str
    status: Status
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


# -- rendering ----------------------------------------------------------------------------------

ITEMS = {
    "services": "service", "service_requests": "request", "errors": "error", "endpoints": "endpoint",
    "formats": "format", "attributes": "attribute", "values": "value",
}  # fmt: skip
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _NOT_XML.sub("", str(value))


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_element(key, item))
    elif isinstance(value, list):
        for item in value:
            element.append(_element(ITEMS[tag], item))
    else:
        element.text = _xml_text(value)
    return element


def render(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    """The body in the asked format: JSON as is, XML under `root` (lists as the spec names them)."""
    if fmt == "xml":
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
            _element(root, body), encoding="unicode"
        )
        return Response(text.encode("utf-8"), status_code=status, media_type="text/xml; charset=utf-8")
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status_code=status, media_type="application/json; charset=utf-8")


def w3c(moment: datetime | None) -> str | None:
    """A W3C date-time in UTC, e.g. 2026-03-03T09:00:00Z."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- errors -------------------------------------------------------------------------------------


class Open311Error(Exception):
    """Raised when a request cannot be answered; carries the HTTP status and the spec's description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _format_of(request: Request) -> Fmt:
    return "xml" if request.url.path.lower().endswith(".xml") else "json"


def error_response(request: Request, status: int, description: str) -> Response:
    return render(_format_of(request), "errors", [{"code": status, "description": description}], status)


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for problem in error.errors()[:5]:
        where = ".".join(str(p) for p in problem.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts) or "The request is invalid."


class Open311Route(APIRoute):
    """Answers every failure in the spec's error format and in the format the path asks for."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                return error_response(request, 400, _validation_message(error))
            except Open311Error as error:
                return error_response(request, error.status, error.description)
            except CaselineError as error:
                status = status_for(error)
                if status == 500:
                    raise
                return error_response(request, status if status in (403, 404) else 400, error.message)

        return guarded


def _documented(model: Any, description: str) -> dict[str, Any]:
    return {
        "model": model,
        "description": description,
        "content": {"text/xml": {"schema": {"type": "string"}}},
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _documented(list[ErrorOut], "The request is invalid; the description says why"),
    404: _documented(list[ErrorOut], "No such service, request, token or jurisdiction"),
}


class Open311Response(JSONResponse):
    """Only names the default media type in the OpenAPI document; answers are built by `render`."""


PREFIX = "/open311/"
router = APIRouter(
    prefix=f"{PREFIX}v2",
    tags=["open311"],
    route_class=Open311Route,
    default_response_class=Open311Response,
    responses=ERRORS,
)
FmtPath = Annotated[Fmt, Path(description="Answer format: json or xml.")]
Jurisdiction = Annotated[
    str | None, Query(max_length=200, description="Optional: this endpoint serves one jurisdiction.")
]


def _check_jurisdiction(svc: Services, jurisdiction_id: str | None) -> None:
    wanted = svc.settings.open311_jurisdiction
    given = (jurisdiction_id or "").strip()
    if wanted and given and given != wanted:
        raise Open311Error(404, f"jurisdiction_id {given[:60]} not found; this endpoint serves {wanted}.")


def _now(svc: Services) -> datetime:
    return svc.workflow.clock.now()


# -- discovery and services -------------------------------------------------------------------


@router.get(
    "/discovery.{fmt}",
    summary="Open311 service discovery",
    responses={200: _documented(DiscoveryOut, "Where the GeoReport v2 endpoint is, and its formats")},
)
def discovery(fmt: FmtPath, request: Request, svc: ServicesDep) -> Response:
    """The discovery document (http://wiki.open311.org/Service_Discovery)."""
    url = svc.settings.open311_base_url or str(request.base_url).rstrip("/") + router.prefix
    body = {
        "changeset": CHANGESET,
        "contact": svc.settings.open311_contact,
        "key_service": svc.settings.open311_key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production",
                "formats": FORMATS,
            }
        ],
    }  # fmt: skip
    return render(fmt, "discovery", body)


def _service_row(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code, "service_name": service.name, "description": service.description,
        "metadata": bool(service.attributes), "type": service.type, "keywords": service.keywords,
        "group": service.group,
    }  # fmt: skip


@router.get(
    "/services.{fmt}",
    summary="Open311 service list",
    responses={200: _documented(list[ServiceOut], "Every kind of voice in every area")},
)
def services(fmt: FmtPath, svc: ServicesDep, jurisdiction_id: Jurisdiction = None) -> Response:
    """What people can report: each kind of voice (opinion, suggestion, difficulty, dispute,
    disaster) in each of the six areas."""
    _check_jurisdiction(svc, jurisdiction_id)
    return render(fmt, "services", [_service_row(s) for s in SERVICES.values()])


def _definition(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
                "datatype_description": a.datatype_description, "order": order, "description": a.description,
                "values": [{"key": key, "name": name} for key, name in a.values],
            }
            for order, a in enumerate(service.attributes, start=1)
        ],
    }  # fmt: skip


@router.get(
    "/services/{service_code}.{fmt}",
    summary="Open311 service definition",
    responses={200: _documented(ServiceDefinitionOut, "The attributes a service asks for")},
)
def service_definition(
    service_code: Annotated[str, Path(max_length=100)],
    fmt: FmtPath,
    svc: ServicesDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The questions a service asks beyond the description (its `attribute[code]` fields)."""
    _check_jurisdiction(svc, jurisdiction_id)
    service = SERVICES.get(service_code)
    if service is None:
        raise Open311Error(404, f"service_code {service_code[:60]} not found.")
    return render(fmt, "service_definition", _definition(service))


# -- submitting a request ---------------------------------------------------------------------

_ATTRIBUTE_KEY = re.compile(r"attribute\[([A-Za-z0-9_.-]{1,64})\](\[\])?\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# W3C date-time with a zone, written out so the OpenAPI pattern and the check agree on every
# calendar field (only 29 February of common years gets past it, to be refused by the parser).
W3C_DATETIME = (
    r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-"
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|[12][0-9]))"
    r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_W3C = re.compile(W3C_DATETIME + r"\Z")


class Form:
    """The fields of a form-encoded POST: bounded, each spec field at most once, blank = absent."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.fields: dict[str, list[str]] = {}
        self.attributes: dict[str, list[str]] = {}
        for key, value in pairs:
            match = _ATTRIBUTE_KEY.match(key)
            if match:
                self.attributes.setdefault(match.group(1), []).append(value)
            elif key.startswith("attribute"):
                raise Open311Error(
                    400, f"{key[:80]} is not of the form attribute[code] or attribute[code][]."
                )
            else:
                self.fields.setdefault(key, []).append(value)

    def one(self, name: str, *, limit: int, lines: bool = False) -> str | None:
        """The field's value, stripped; None when absent or blank (the spec's optional arguments)."""
        values = self.fields.get(name, [])
        if len(values) > 1:
            raise Open311Error(400, f"Give {name} once.")
        value = values[0].strip() if values else ""
        if not value:
            return None
        return checked_text(value, name, limit=limit, lines=lines)


def checked_text(value: str, name: str, *, limit: int, lines: bool = False) -> str:
    if len(value) > limit:
        raise Open311Error(400, f"{name} is too long: at most {limit} characters.")
    if _CONTROL.search(value) or (not lines and ("\n" in value or "\r" in value)):
        raise Open311Error(400, f"{name} contains control characters{'' if lines else ' or line breaks'}.")
    return value


async def _read_form(request: Request) -> Form:
    kind = request.headers.get("content-type", "")
    media, _, params = kind.partition(";")
    if media.strip().lower() != "application/x-www-form-urlencoded":
        raise Open311Error(400, "Send the request as application/x-www-form-urlencoded.")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise Open311Error(400, "Send the request in UTF-8.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Open311Error(400, f"The request is too large: at most {MAX_BODY} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Open311Error(400, f"The request is too large: at most {MAX_BODY} bytes.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict",
            max_num_fields=MAX_FIELDS,
        )  # fmt: skip
    except ValueError:  # also UnicodeDecodeError
        raise Open311Error(
            400, f"The form is not valid UTF-8 form data of at most {MAX_FIELDS} fields."
        ) from None
    return Form(pairs)


def parse_w3c(value: str, name: str) -> datetime:
    """A W3C date-time with a time zone; a `+` that arrived as a space (unencoded) is put back."""
    text = re.sub(r" ([0-9]{2}:[0-9]{2})\Z", r"+\1", value.strip())
    if not _W3C.match(text):
        raise Open311Error(
            400, f"{name} must be a W3C date-time with a time zone, e.g. 2010-01-01T00:00:00Z."
        )
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a valid date-time.") from None


def _number(value: str, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise Open311Error(400, f"{name} must be a number between {low:g} and {high:g}.")
    return number


def _answers(service: Service, form: Form) -> list[tuple[Attribute, str]]:
    """The attribute answers, checked against the service definition, as readable lines."""
    defined = {a.code: a for a in service.attributes}
    answers: dict[str, str] = {}
    for code, raw in form.attributes.items():
        attribute = defined.get(code)
        if attribute is None:
            raise Open311Error(400, f"attribute[{code}] is not part of service {service.code}.")
        values = list(dict.fromkeys(v.strip() for v in raw if v.strip()))
        if not attribute.variable or not values:
            continue  # a notice takes no input; blank means not given
        name = f"attribute[{code}]"
        if attribute.datatype != "multivaluelist" and len(values) > 1:
            raise Open311Error(400, f"{name} takes one value.")
        keys = dict(attribute.values)
        if attribute.datatype in ("singlevaluelist", "multivaluelist"):
            unknown = [v for v in values if v not in keys]
            if unknown:
                raise Open311Error(400, f"{name} must be one of {', '.join(keys)}.")
            answers[code] = ", ".join(keys[v] for v in values)
        elif attribute.datatype == "number":
            answers[code] = f"{_number(values[0], name, -1e9, 1e9):g}"
        elif attribute.datatype == "datetime":
            moment = parse_w3c(values[0], name)
            if not EARLIEST <= moment <= LATEST:
                raise Open311Error(400, f"{name} must lie between the years 1000 and 9000.")
            answers[code] = w3c(moment) or ""
        else:
            answers[code] = checked_text(
                values[0], name, limit=attribute.limit, lines=attribute.datatype == "text"
            )
    missing = [a for a in service.attributes if a.required and a.variable and a.code not in answers]
    if missing:
        raise Open311Error(400, f"attribute[{missing[0].code}] is required: {missing[0].description}")
    return [(a, answers[a.code]) for a in service.attributes if a.code in answers]


def _media_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced [ in the host
        raise Open311Error(400, "media_url must be an http or https URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in value:
        raise Open311Error(400, "media_url must be an http or https URL.")
    return value


@dataclass(frozen=True)
class Submission:
    """A checked POST, ready to become an opinion."""

    service: Service
    latitude: float | None
    longitude: float | None
    address: str | None
    address_id: str | None
    description: str | None
    answers: list[tuple[Attribute, str]]
    media_url: str | None
    contact: Contact | None
    account_id: str | None


def _submission(form: Form) -> Submission:
    code = form.one("service_code", limit=100)
    if code is None:
        raise Open311Error(400, "service_code was not provided.")
    service = SERVICES.get(code)
    if service is None:
        raise Open311Error(404, f"service_code {code[:60]} not found.")
    lat, long = form.one("lat", limit=40), form.one("long", limit=40)
    if (lat is None) != (long is None):
        raise Open311Error(400, "Send both lat and long, or neither.")
    latitude = None if lat is None else _number(lat, "lat", -90, 90)
    longitude = None if long is None else _number(long, "long", -180, 180)
    address = form.one("address_string", limit=2 * MAX_NAME)
    address_id = form.one("address_id", limit=100)
    if latitude is None and address is None and address_id is None:
        raise Open311Error(400, "A location is required: lat and long, address_string or address_id.")
    # Each at most MAX_NAME - 1, so "first last" fits the contact's name.
    first, last = form.one("first_name", limit=MAX_NAME - 1), form.one("last_name", limit=MAX_NAME - 1)
    email, phone = form.one("email", limit=2 * MAX_NAME), form.one("phone", limit=40)
    if email is not None and "@" not in email:
        raise Open311Error(400, "email must be an email address.")
    form.one("device_id", limit=200)  # checked, never stored: it identifies a person's phone
    name = " ".join(part for part in (first, last) if part) or None
    return Submission(
        service=service, latitude=latitude, longitude=longitude, address=address, address_id=address_id,
        description=form.one("description", limit=MAX_TEXT, lines=True), answers=_answers(service, form),
        media_url=_media_url(form.one("media_url", limit=2000)),
        contact=Contact(name=name, phone=phone, address=email) if (name or phone or email) else None,
        account_id=form.one("account_id", limit=200),
    )  # fmt: skip


def compose_text(submission: Submission, *, listed: bool) -> str:
    """The opinion's private text: the description, the answers, then the view's trailer line."""
    lines = [submission.description or "(no description given)"]
    details = [f"- {attribute.description} {answer}" for attribute, answer in submission.answers]
    if submission.address_id:
        details.append(f"- Address id: {submission.address_id}")
    if submission.media_url:
        details.append(f"- Photo or other media: {submission.media_url}")
    if details:
        lines += ["", f"Open311 {submission.service.code}:", *details]
    lines.append(
        view.trailer(
            listed=listed, details=submission.service.public_details, media_url=submission.media_url,
            address_id=submission.address_id,
        )
    )  # fmt: skip
    text = "\n".join(lines)
    if len(text) > MAX_TEXT:
        raise Open311Error(
            400, f"The description and attributes together are too long: at most {MAX_TEXT} characters."
        )
    return text


def unit_for(svc: Services, latitude: float | None, longitude: float | None) -> str:
    """The grid the location falls in (first matching box), else the default unit."""
    if latitude is not None and longitude is not None:
        for box in svc.settings.open311_grids:
            if box.contains(latitude, longitude):
                return box.unit
    return svc.settings.open311_default_unit


def _caller(svc: Services, api_key: str | None, client: str) -> Actor | None:
    """The key-holder's actor; None for an anonymous caller (when allowed and within its rate)."""
    if api_key is None:
        if not svc.settings.open311_anonymous:
            raise Open311Error(403, "An api_key is required; see key_service in discovery.")
        if not svc.limiter.allow("open311", client, svc.settings.public_submissions_per_minute):
            raise Open311Error(429, "Too many requests from this client; wait a minute.")
        return None
    name = svc.credentials.account_for_key(api_key)
    if name is None:
        raise Open311Error(403, "Invalid api_key received; cannot create the request.")
    try:
        account = svc.workflow.get_account(name)
    except NotFoundError:
        raise Open311Error(403, "Invalid api_key received; cannot create the request.") from None
    if not account.active:
        raise Open311Error(403, "This api_key's account has been revoked.")
    return Actor(account.name, role=Role(account.role))


def _submit(svc: Services, fmt: Fmt, form: Form, client: str, key: str | None) -> Response:
    caller = _caller(svc, form.one("api_key", limit=200), client)
    _check_jurisdiction(svc, form.one("jurisdiction_id", limit=200))
    submission = _submission(form)
    service = submission.service
    listed = caller is not None and service.type == "realtime"
    actor = caller or ANONYMOUS.actor
    result = svc.workflow.record_opinion(
        actor, kind=service.kind.value, area=service.area.value, channel=Channel.ONLINE.value,
        unit=unit_for(svc, submission.latitude, submission.longitude),
        text=compose_text(submission, listed=listed),
        recorder=view.RECORDER, place=submission.address, latitude=submission.latitude,
        longitude=submission.longitude, contact=submission.contact,
        # Receipts are keyed by command and key only: scope the client's key to the caller.
        key=None if key is None else "open311/" + hashlib.sha256(f"{actor.name}\n{key}".encode()).hexdigest(),
    )  # fmt: skip
    answer: dict[str, Any] = (
        {"service_request_id": str(result.id)} if listed else {"token": view.token_for(result.id)}
    )
    answer |= {"service_notice": service.notice, "account_id": submission.account_id}
    return render(fmt, "service_requests", [answer], 201)


LINE = r"^[^\x00-\x1f\x7f]*$"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
SOMETHING = r"[^\x00-\x20\x7f]"


def _line(limit: int, description: str | None = None, pattern: str = LINE) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "string", "maxLength": limit, "pattern": pattern}
    return field | ({"description": description} if description else {})


POST_FIELDS: dict[str, dict[str, Any]] = {
    "api_key": _line(200, "Required unless anonymous requests are on."),
    "jurisdiction_id": _line(200),
    "service_code": _line(100, "From the service list.", r"^\s*[a-z]+-[a-z]+\s*$"),
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "long": {"type": "number", "minimum": -180, "maximum": 180},
    "address_string": _line(2 * MAX_NAME),
    "address_id": _line(100),
    "email": _line(2 * MAX_NAME, "An email address.", r"^\s*$|^[^\x00-\x1f\x7f]*@[^\x00-\x1f\x7f]*$"),
    "device_id": _line(200),
    "account_id": _line(200),
    "first_name": _line(MAX_NAME - 1),
    "last_name": _line(MAX_NAME - 1),
    "phone": _line(40),
    "description": _line(MAX_TEXT, "Free text; line breaks allowed.", TEXT),
    "media_url": _line(
        2000,
        "An http or https URL.",
        r"^\s*$|^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#\[\]]+[^\x00-\x20\x7f]*\s*$",
    ),
}
POST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": POST_FIELDS,
                    "required": ["service_code"],
                    "additionalProperties": {"type": "string"},
                    "dependentRequired": {"lat": ["long"], "long": ["lat"]},
                    "anyOf": [
                        {"required": ["lat", "long"]},
                        {
                            "required": ["address_string"],
                            "properties": {"address_string": {"pattern": SOMETHING}},
                        },
                        {"required": ["address_id"], "properties": {"address_id": {"pattern": SOMETHING}}},
                    ],
                    "description": "Plus attribute[code]=value (attribute[code][]=value for lists); "
                    "a location is required: lat and long, address_string or address_id.",
                }
            }
        },
    }
}


@router.post(
    "/requests.{fmt}",
    status_code=201,
    summary="Open311: submit a service request",
    openapi_extra=POST_BODY,
    responses={
        201: _documented(list[SubmittedOut], "The new request's service_request_id, or a token"),
        403: _documented(list[ErrorOut], "The api_key is wrong or revoked (or required)"),
        429: _documented(list[ErrorOut], "Too many anonymous requests from this client"),
    },
)
async def submit_request(
    fmt: FmtPath, request: Request, svc: ServicesDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """Record the request as an opinion (channel online) in the feedback tracker of its grid."""
    form = await _read_form(request)
    client = request.client.host if request.client else "unknown"
    return await run_command(svc, _submit, svc, fmt, form, client, idempotency_key)


# -- reading requests ---------------------------------------------------------------------------


def _updated(row: dict[str, Any]) -> datetime:
    moments = [from_iso(row[name]) for name in ("updated_at", "stage_at", "disclosed_at") if row[name]]
    return max(m for m in moments if m is not None)


def _deadline(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return w3c(datetime.fromisoformat(value))
    except ValueError:
        return None


def request_body(row: dict[str, Any]) -> dict[str, Any]:
    """One request as the spec shows it: only the view's public columns."""
    service = SERVICES.get(row["service_code"])
    return {
        "service_request_id": row["service_request_id"],
        "status": row["status"],
        "status_notes": row["notes"],
        "service_name": service.name if service else row["service_code"],
        "service_code": row["service_code"],
        "description": row["title"],
        "agency_responsible": row["department"],
        "service_notice": service.notice if service else None,
        "requested_datetime": w3c(from_iso(row["requested_at"])),
        "updated_datetime": w3c(_updated(row)),
        "expected_datetime": _deadline(row["deadline"]),
        "address": row["address"],
        "address_id": row["address_id"],
        "zipcode": None,
        "lat": row["latitude"],
        "long": row["longitude"],
        "media_url": row["media_url"],
    }


def _caught_up(svc: Services, lookup: Callable[[], Any]) -> Any:
    """Read-your-writes for lookups by id or token: on a miss, let the views catch up once."""
    found = lookup()
    if not found and svc.projector.lag() > 0:
        svc.projector.wait_for(svc.projector.log.head(), timeout=CATCH_UP_SECONDS)
        found = lookup()
    return found


def _split(value: str | None) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in (value or "").split(",") if part.strip()))


def _canonical_id(value: str) -> str | None:
    try:
        return str(UUID(value))
    except ValueError:
        return None


def _within(moment: datetime) -> datetime:
    """A search bound moved into years 1000-9000, so windows never overflow the calendar."""
    return max(EARLIEST, min(LATEST, moment))


def _filter(
    svc: Services,
    ids: str | None,
    codes: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
) -> view.RequestFilter:
    named = _split(ids)
    if named:  # "This overrides all other arguments."
        if (ids or "").count(",") >= MAX_IDS:
            raise Open311Error(400, f"Ask for at most {MAX_IDS} service_request_id at once.")
        canonical = tuple(c for c in (_canonical_id(v) for v in named) if c is not None)
        return view.RequestFilter(ids=canonical)
    wanted_codes = _split(codes)
    unknown = [c for c in wanted_codes if c not in SERVICES]
    if unknown:
        raise Open311Error(400, f"service_code {unknown[0][:60]} is not a service code.")
    statuses = _split(status)
    if any(s not in ("open", "closed") for s in statuses):
        raise Open311Error(400, "status must be open, closed, or both (comma delimited).")
    start = _within(parse_w3c(start_date, "start_date")) if start_date and start_date.strip() else None
    end = _within(parse_w3c(end_date, "end_date")) if end_date and end_date.strip() else None
    if start is not None and end is not None:
        if start > end:
            raise Open311Error(400, "start_date must not be after end_date.")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days.")
    elif start is not None:
        end = start + WINDOW
    elif end is not None:
        start = end - WINDOW
    else:
        end = _now(svc)
        start = end - WINDOW
    return view.RequestFilter(
        codes=tuple(wanted_codes) or None, statuses=tuple(statuses) or None, start=start, end=end
    )


def _comma_list(item: str) -> str:
    return rf"^\s*({item}\s*)?(,\s*({item}\s*)?)*$"


IDS_PATTERN = rf"^[^,]*(,[^,]*){{0,{MAX_IDS - 1}}}$"
CODES_PATTERN = _comma_list("(" + "|".join(SERVICES) + ")")
STATUS_PATTERN = _comma_list("(open|closed)")
DATE_PATTERN = r"^\s*(" + W3C_DATETIME.replace("[+-]", "[+ -]") + r")?\s*$"


def _documented_query(limit: int, description: str, pattern: str) -> Any:
    """A query string documented with its pattern; `_filter` checks it and says what is wrong."""
    return Query(max_length=limit, description=description, json_schema_extra={"pattern": pattern})


@router.get(
    "/requests.{fmt}",
    summary="Open311: service requests",
    responses={200: _documented(list[RequestOut], "Matching requests, newest first")},
)
def list_requests(
    fmt: FmtPath,
    svc: ServicesDep,
    service_request_id: Annotated[
        str | None,
        _documented_query(8000, "Comma delimited, at most 200; overrides all other arguments.", IDS_PATTERN),
    ] = None,
    service_code: Annotated[str | None, _documented_query(4000, "Comma delimited.", CODES_PATTERN)] = None,
    start_date: Annotated[str | None, _documented_query(40, "W3C date-time with zone.", DATE_PATTERN)] = None,
    end_date: Annotated[str | None, _documented_query(40, "W3C date-time with zone.", DATE_PATTERN)] = None,
    status: Annotated[str | None, _documented_query(40, "open, closed, or both.", STATUS_PATTERN)] = None,
    jurisdiction_id: Jurisdiction = None,
    page: Annotated[int, Query(ge=1, le=100_000, description="Extension: which page.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=view.MAX_PAGE_SIZE, description="Extension: requests per page.")
    ] = view.MAX_PAGE_SIZE,
) -> Response:
    """Requests in the last 90 days by default (any 90-day window with start_date/end_date), at
    most 1000 per page; filtered by service_code and status."""
    _check_jurisdiction(svc, jurisdiction_id)
    where = _filter(svc, service_request_id, service_code, start_date, end_date, status)
    if where.ids is not None and not where.ids:
        return render(fmt, "service_requests", [])

    def lookup() -> list[dict[str, Any]]:
        return view.find_requests(svc.projector.db, where, page=page, page_size=page_size)

    rows = _caught_up(svc, lookup) if where.ids else lookup()
    return render(fmt, "service_requests", [request_body(row) for row in rows])


@router.get(
    "/requests/{service_request_id}.{fmt}",
    summary="Open311: one service request",
    responses={200: _documented(list[RequestOut], "The request (a list of one, as the spec has it)")},
)
def get_request(
    service_request_id: Annotated[str, Path(max_length=100)],
    fmt: FmtPath,
    svc: ServicesDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """One request's current status."""
    _check_jurisdiction(svc, jurisdiction_id)
    canonical = _canonical_id(service_request_id)
    where = view.RequestFilter(ids=(canonical,) if canonical else ())
    rows = (
        _caught_up(svc, lambda: view.find_requests(svc.projector.db, where, page_size=1)) if canonical else []
    )
    if not rows:
        raise Open311Error(404, f"service_request_id {service_request_id[:60]} not found.")
    return render(fmt, "service_requests", [request_body(rows[0])])


@router.get(
    "/tokens/{token}.{fmt}",
    summary="Open311: service_request_id from a token",
    responses={200: _documented(list[TokenOut], "The request's id once triaged (empty until then)")},
)
def from_token(
    token: Annotated[str, Path(max_length=100)],
    fmt: FmtPath,
    svc: ServicesDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The service_request_id a token stands for, once the request is triaged."""
    _check_jurisdiction(svc, jurisdiction_id)
    wanted = token.strip().lower()
    row = _caught_up(svc, lambda: view.request_by_token(svc.projector.db, wanted)) if wanted else None
    if row is None:
        raise Open311Error(404, f"token {token[:60]} not found.")
    found = row["service_request_id"] if row["listed"] else None
    return render(fmt, "service_requests", [{"service_request_id": found, "token": wanted}])


OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


@router.api_route("/{rest:path}", methods=OTHER_METHODS, include_in_schema=False)
def unknown(rest: str, request: Request) -> Response:
    """Everything else under /open311/v2/: 405 naming the allowed methods, or the spec's 404.

    (Starlette would answer a method another route of the path lacks with that one route's
    methods only; GET and POST of `requests.{fmt}` are two routes.)"""
    allowed = sorted(
        {
            method
            for route in router.routes
            if isinstance(route, APIRoute) and route.endpoint is not unknown
            and route.path_regex.match(request.url.path)
            for method in route.methods or ()
        }
    )  # fmt: skip
    if allowed:
        response = error_response(request, 405, f"Use {', '.join(allowed)} here.")
        response.headers["Allow"] = ", ".join(allowed)
        return response
    raise Open311Error(404, f"There is no Open311 resource {rest[:80]!r}; see discovery.json.")
