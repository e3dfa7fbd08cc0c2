"""Who may do what, over real HTTP: role x owner x endpoint against a live server on 127.0.0.1.

The matrix is enumerated from the app's own OpenAPI document, so an endpoint added without
an entry in `ACCESS` fails `test_every_endpoint_has_an_expectation` and cannot slip past.
For each endpoint, `ACCESS` says which roles pass its gate and whether the path names an
object with an owner; `expected()` derives the status every role must get:

- anonymous callers get 401 on anything that needs a sign-in;
- an object outside the caller's reach answers 404, exactly like a missing one (BOLA);
- a role that may not take the action gets 403;
- a role that may gets the action's success status, or 409 when the item's stage refuses it
  (the cells share a few items whose stage moves on as the matrix runs).

Refused calls must write nothing: every 401/403/404 cell checks the head of the event log.

The world: officer A (department "roads") leads item X in roads; officer B is in "water",
which holds item Y (led by someone without an account) and item L (led by officer A, so A
reaches it by leadership and B by department). Opinions O_X and O_Y are merged into X and Y;
O_R was written down by the recorder and is not merged anywhere.
"""

from __future__ import annotations

import base64
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from api.app import create_app
from api.security import ALGORITHM, AUDIENCE, issue_token
from api.settings import Settings
from domain.rules import Role
from tests.e2e.conftest import START, LiveServer, serve

PASSWORD = "a long enough password"
FUTURE = (START + timedelta(days=60)).isoformat()
LATER = (START + timedelta(days=90)).isoformat()

ANONYMOUS, PUBLIC, RECORDER = "anonymous", "public", "recorder"
OFFICER_A, OFFICER_B, SUPERVISOR, ADMIN = "officer_a", "officer_b", "supervisor", "admin"
ROLES = (ANONYMOUS, PUBLIC, RECORDER, OFFICER_A, OFFICER_B, SUPERVISOR, ADMIN)
EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {ANONYMOUS}
STAFF = frozenset({OFFICER_A, OFFICER_B, SUPERVISOR, ADMIN})
SUPERVISORS = frozenset({SUPERVISOR, ADMIN})
RECORDERS = STAFF | {RECORDER}

# Account name, role and department behind each matrix role.
ACCOUNTS: dict[str, tuple[str, Role, str | None]] = {
    PUBLIC: ("resident-zhou", Role.PUBLIC, None),
    RECORDER: ("recorder-xu", Role.RECORDER, None),
    OFFICER_A: ("officer-a", Role.OFFICER, "roads"),
    OFFICER_B: ("officer-b", Role.OFFICER, "water"),
    SUPERVISOR: ("supervisor-chen", Role.SUPERVISOR, None),
    ADMIN: ("admin-lin", Role.ADMIN, None),
}

ISSUE_OWNERS = ("X", "Y", "L")
OPINION_OWNERS = ("O_X", "O_Y", "O_R")
REACH: dict[str, frozenset[str]] = {
    OFFICER_A: frozenset({"X", "L", "O_X"}),
    OFFICER_B: frozenset({"Y", "L", "O_Y"}),
    RECORDER: frozenset({"O_R"}),
    SUPERVISOR: frozenset(ISSUE_OWNERS + OPINION_OWNERS),
    ADMIN: frozenset(ISSUE_OWNERS + OPINION_OWNERS),
}


@dataclass(frozen=True)
class Access:
    """Who passes an endpoint's gate, and what the path names."""

    allowed: frozenset[str]
    ok: frozenset[int]
    scope: str | None = None  # "issue" or "opinion": the path names an object with an owner
    reach_first: bool = False  # reach is checked before the role: out of reach is 404 for anyone


def acts(allowed: frozenset[str]) -> Access:
    """An action on an issue: out of reach is 404 first, then the role decides (403)."""
    return Access(allowed, frozenset({200, 409}), scope="issue", reach_first=True)


READ_ISSUE = Access(SIGNED_IN, frozenset({200}), scope="issue", reach_first=True)
OPEN = frozenset({200})

ACCESS: dict[tuple[str, str], Access] = {
    ("POST", "/api/auth/token"): Access(EVERYONE, OPEN),
    ("GET", "/api/me"): Access(EVERYONE, OPEN),
    ("POST", "/api/accounts"): Access(frozenset({ADMIN}), frozenset({201})),
    ("DELETE", "/api/accounts/{name}"): Access(frozenset({ADMIN}), OPEN),
    ("POST", "/api/opinions"): Access(RECORDERS, frozenset({201})),
    ("POST", "/api/public/opinions"): Access(EVERYONE, frozenset({201})),
    ("GET", "/api/opinions/{opinion_id}"): Access(SIGNED_IN, OPEN, scope="opinion", reach_first=True),
    ("POST", "/api/opinions/{opinion_id}/route"): Access(SUPERVISORS, frozenset({200, 409}), "opinion"),
    ("POST", "/api/opinions/{opinion_id}/answers"): Access(STAFF, OPEN, "opinion"),
    ("DELETE", "/api/opinions/{opinion_id}/contact"): Access(SUPERVISORS, frozenset({204}), "opinion"),
    ("POST", "/api/issues"): Access(SUPERVISORS, frozenset({201})),
    ("GET", "/api/issues/{ref}"): READ_ISSUE,
    ("GET", "/api/issues/{ref}/history"): READ_ISSUE,
    ("GET", "/api/issues/{ref}/audit"): READ_ISSUE,
    ("POST", "/api/issues/{ref}/opinions"): acts(SUPERVISORS),
    ("POST", "/api/issues/{ref}/assign"): acts(SUPERVISORS),
    ("POST", "/api/issues/{ref}/hand-over"): acts(STAFF),
    ("POST", "/api/issues/{ref}/extend-deadline"): acts(SUPERVISORS),
    ("POST", "/api/issues/{ref}/progress"): acts(STAFF),
    ("POST", "/api/issues/{ref}/coordination"): acts(STAFF),
    ("POST", "/api/issues/{ref}/coordination/{index}/answer"): acts(STAFF),
    ("POST", "/api/issues/{ref}/inspections"): acts(STAFF),
    ("POST", "/api/issues/{ref}/disclosures"): acts(STAFF),
    ("POST", "/api/issues/{ref}/resolution"): acts(STAFF),
    ("POST", "/api/issues/{ref}/pause"): acts(STAFF),
    ("POST", "/api/issues/{ref}/resume"): acts(STAFF),
    ("POST", "/api/issues/{ref}/evaluations"): acts(SUPERVISORS),
    ("POST", "/api/issues/{ref}/conclusion"): acts(SUPERVISORS),
    ("POST", "/api/issues/{ref}/close-fixed"): acts(STAFF),
    ("POST", "/api/issues/{ref}/reopen"): acts(SUPERVISORS),
    ("POST", "/api/issues/{ref}/register-and-explain"): acts(SUPERVISORS),
    ("POST", "/api/issues/{ref}/revisit"): acts(SUPERVISORS),
    ("POST", "/api/meetings"): Access(SUPERVISORS, frozenset({201})),
    ("GET", "/api/meetings/{meeting_id}"): Access(STAFF, OPEN),
    ("POST", "/api/meetings/{meeting_id}/decisions"): Access(SUPERVISORS, OPEN),
    ("GET", "/api/board"): Access(STAFF, OPEN),
    ("GET", "/api/overdue"): Access(SUPERVISORS, OPEN),
    ("GET", "/api/ledger"): Access(SUPERVISORS, OPEN),
    ("GET", "/api/satisfaction"): Access(STAFF, OPEN),
    ("GET", "/api/feedback"): Access(STAFF, OPEN),
    ("GET", "/api/register"): Access(EVERYONE, OPEN),
    ("GET", "/api/exports/{view}.{fmt}"): Access(SUPERVISORS, OPEN),
    ("GET", "/api/health"): Access(EVERYONE, OPEN),
    # Open311 is open to everyone by the specification; a bearer token changes nothing there.
    ("GET", "/open311/v2/discovery.{fmt}"): Access(EVERYONE, OPEN),
    ("GET", "/open311/v2/services.{fmt}"): Access(EVERYONE, OPEN),
    ("GET", "/open311/v2/services/{service_code}.{fmt}"): Access(EVERYONE, OPEN),
    ("POST", "/open311/v2/requests.{fmt}"): Access(EVERYONE, frozenset({201})),
    ("GET", "/open311/v2/requests.{fmt}"): Access(EVERYONE, OPEN),
    ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"): Access(EVERYONE, frozenset({404})),
    ("GET", "/open311/v2/tokens/{token}.{fmt}"): Access(EVERYONE, OPEN),
}


def expected(role: str, access: Access, owner: str | None) -> frozenset[int]:
    """The statuses `role` may get from an endpoint with this access on `owner`'s object."""
    if access.allowed == EVERYONE:
        return access.ok
    if role == ANONYMOUS:
        return frozenset({401})
    reaches = owner is None or owner in REACH.get(role, frozenset())
    if access.reach_first and not reaches:
        return frozenset({404})
    if role not in access.allowed:
        return frozenset({403})
    if not reaches:
        return frozenset({404})
    return access.ok


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) the app documents, in the document's order."""
    schema = create_app(Settings(data_dir=Path(tempfile.gettempdir()) / "caseline-openapi-only")).openapi()
    return [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops]


OPERATIONS = _operations()


def _owners(operation: tuple[str, str]) -> tuple[str | None, ...]:
    access = ACCESS.get(operation)
    if access is None or access.scope is None:
        return (None,)
    return ISSUE_OWNERS if access.scope == "issue" else OPINION_OWNERS


CELLS = [
    pytest.param(role, operation, owner, id=f"{role}|{operation[0]} {operation[1]}|{owner or '-'}")
    for operation in OPERATIONS
    for owner in _owners(operation)
    for role in ROLES
]


# -- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    """The live server, everyone's headers, and the objects the matrix acts on."""

    server: LiveServer
    http: httpx.Client
    headers: dict[str, dict[str, str]]
    issues: dict[str, str] = field(default_factory=dict)  # owner -> issue number
    leaders: dict[str, str] = field(default_factory=dict)  # owner -> leader
    opinions: dict[str, str] = field(default_factory=dict)  # owner -> opinion id
    spare_opinion: str = ""
    meeting: str = ""
    open311_token: str = ""
    counter: int = 0

    def head(self) -> int:
        """The last position of the event log: refused calls must not move it."""
        return int(self.server.services.workflow.recorder.max_notification_id() or 0)

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def call(self, role: str, method: str, url: str, **options: Any) -> httpx.Response:
        return self.http.request(method, url, headers=self.headers[role], **options)


def sign_in(http: httpx.Client, name: str) -> dict[str, str]:
    answer = http.post("/api/auth/token", data={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "bearer"
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


def matrix_settings(folder: Path) -> Settings:
    # The matrix signs in and submits far more than a person would: the limits have own tests.
    return Settings(data_dir=folder, login_per_minute=10_000, public_submissions_per_minute=10_000)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = matrix_settings(tmp_path_factory.mktemp("authz") / "var")
    with serve(settings) as server, server.client() as http:
        for name, role, department in ACCOUNTS.values():
            server.account(name, role, department)
            server.services.credentials.set_password(name, PASSWORD)
        for role in ROLES:
            server.account(f"victim-{role}", Role.RECORDER)
        headers = {ANONYMOUS: {}} | {role: sign_in(http, ACCOUNTS[role][0]) for role in ACCOUNTS}
        w = World(server, http, headers)
        sup = headers[SUPERVISOR]

        def opinion(role: str, text: str) -> str:
            body = {"kind": "difficulty", "area": "livelihood", "channel": "household_visit"}
            body |= {"unit": "grid 1", "text": text}
            return str(created(http.post("/api/opinions", headers=headers[role], json=body))["id"])

        def item(owner: str, leader: str, department: str) -> None:
            voice = opinion(SUPERVISOR, f"voice behind {owner}")
            body = {"title": f"item {owner}", "area": "livelihood", "level": "grid", "horizon": "near"}
            number = created(http.post("/api/issues", headers=sup, json=body | {"opinion_ids": [voice]}))
            ref = str(number["number"])
            assign = {"leader": leader, "department": department, "goals": ["g"], "measures": ["m"]}
            created(http.post(f"/api/issues/{ref}/assign", headers=sup, json=assign | {"deadline": FUTURE}))
            ask = {"department": "parks", "request": "lend us a mower"}
            created(http.post(f"/api/issues/{ref}/coordination", headers=sup, json=ask))
            w.issues[owner], w.leaders[owner] = ref, leader
            w.opinions[f"O_{owner}"] = voice

        item("X", "officer-a", "roads")
        item("Y", "wang-water", "water")
        item("L", "officer-a", "water")
        w.opinions["O_R"] = opinion(RECORDER, "written down by the recorder")
        w.spare_opinion = opinion(SUPERVISOR, "a spare voice to merge")
        meeting = {"kind": "analysis", "unit": "grid 1", "held_at": START.isoformat()}
        meeting |= {"attendees": ["secretary"], "title": "analysis meeting"}
        w.meeting = str(created(http.post("/api/meetings", headers=sup, json=meeting))["id"])
        form = {"service_code": "opinion-culture", "address_string": "3 River Road", "description": "noise"}
        submitted = http.post("/open311/v2/requests.json", data=form)
        assert submitted.status_code == 201, submitted.text
        w.open311_token = submitted.json()[0]["token"]
        server.settle()
        yield w


# -- what each cell sends -----------------------------------------------------------------------

OPINION = {"kind": "opinion", "area": "culture", "channel": "hotline", "unit": "grid 2", "text": "too loud"}
PUBLIC_OPINION = {"kind": "opinion", "area": "culture", "unit": "grid 2", "text": "too loud at night"}
NEW_ISSUE = {"title": "street lamp out", "area": "security", "level": "grid", "horizon": "immediate"}
MEETING = {
    "kind": "hearing",
    "unit": "grid 2",
    "held_at": START.isoformat(),
    "attendees": ["a"],
    "title": "t",
}
Body = Callable[["World", str, str], dict[str, Any]]


def _json(body: dict[str, Any]) -> Body:
    return lambda w, role, owner: {"json": body}


# Bodies are valid, and chosen so that no allowed call changes who reaches what: a hand-over
# names the current leader (refused as the same leader), an assignment repeats the first one.
BODIES: dict[str, Body] = {
    "/api/auth/token": lambda w, role, owner: {
        "data": {"username": ACCOUNTS[PUBLIC][0], "password": PASSWORD}
    },
    "/api/accounts": lambda w, role, owner: {
        "json": {"name": f"opened-by-{role}-{w.next()}", "role": "recorder"}
    },
    "/api/opinions": _json(OPINION),
    "/api/public/opinions": _json(PUBLIC_OPINION),
    "/api/opinions/{opinion_id}/route": _json({"route": "fix_at_once", "reason": "fixed on the spot"}),
    "/api/opinions/{opinion_id}/answers": _json({"feedback": "we are on it"}),
    "/api/issues": _json(NEW_ISSUE),
    "/api/issues/{ref}/opinions": lambda w, role, owner: {"json": {"opinion_ids": [w.spare_opinion]}},
    "/api/issues/{ref}/assign": lambda w, role, owner: {
        "json": {"leader": w.leaders[owner], "department": "roads", "goals": ["g"], "measures": ["m"]}
        | {"deadline": FUTURE}
    },
    "/api/issues/{ref}/hand-over": lambda w, role, owner: {"json": {"to": w.leaders[owner], "reason": "r"}},
    "/api/issues/{ref}/extend-deadline": _json({"deadline": LATER, "reason": "rain", "approver": "chen"}),
    "/api/issues/{ref}/progress": _json({"note": "crew on site"}),
    "/api/issues/{ref}/coordination": _json({"department": "parks", "request": "lend a truck"}),
    "/api/issues/{ref}/coordination/{index}/answer": _json({"answer": "truck on Monday"}),
    "/api/issues/{ref}/inspections": _json({"inspector": "insp", "findings": "holds", "confirmed": True}),
    "/api/issues/{ref}/disclosures": _json({"fields": ["title"], "where": "village notice board"}),
    "/api/issues/{ref}/resolution": _json({"summary": "repaired"}),
    "/api/issues/{ref}/pause": _json({"reason": "waiting for parts"}),
    "/api/issues/{ref}/resume": _json({}),
    "/api/issues/{ref}/evaluations": lambda w, role, owner: {
        "json": {"evaluator": f"rep-{role}-{w.next()}", "verdict": "satisfied"}
    },
    "/api/issues/{ref}/conclusion": _json({}),
    "/api/issues/{ref}/close-fixed": _json({"note": "fixed at once"}),
    "/api/issues/{ref}/reopen": _json({"reason": "it broke again", "deadline": LATER}),
    "/api/issues/{ref}/register-and-explain": _json({"explanation": "needs a budget", "revisit_at": LATER}),
    "/api/issues/{ref}/revisit": _json({}),
    "/api/meetings": _json(MEETING),
    "/api/meetings/{meeting_id}/decisions": _json({"decision": "go ahead"}),
    "/open311/v2/requests.{fmt}": lambda w, role, owner: {
        "data": {"service_code": "opinion-culture", "address_string": "3 River Road", "description": "noise"}
    },
}


def target(w: World, role: str, path: str, owner: str | None) -> str:
    """The concrete URL for a path template, naming `owner`'s object."""
    values = {
        "{ref}": w.issues.get(owner or "", ""),
        "{opinion_id}": w.opinions.get(owner or "", ""),
        "{meeting_id}": w.meeting,
        "{index}": "0",
        "{name}": f"victim-{role}",
        "{view}.{fmt}": "board.csv",
        "{fmt}": "json",
        "{service_code}": "opinion-culture",
        "{service_request_id}": str(uuid4()),
        "{token}": w.open311_token,
    }
    for placeholder, value in values.items():
        path = path.replace(placeholder, value)
    return path


def missing_twin(w: World, url: str, owner: str) -> tuple[str, str, str]:
    """The same URL naming an object that does not exist: (url, real ref, missing ref)."""
    real = w.issues.get(owner) or w.opinions[owner]
    missing = "2026-9999" if owner in ISSUE_OWNERS else str(uuid4())
    return url.replace(real, missing), real, missing


# -- the matrix ---------------------------------------------------------------------------------


def test_every_endpoint_has_an_expectation() -> None:
    assert sorted(set(OPERATIONS) - ACCESS.keys()) == [], "add the new endpoints to ACCESS"
    assert sorted(ACCESS.keys() - set(OPERATIONS)) == [], "ACCESS names endpoints the app no longer has"


@pytest.mark.parametrize(("role", "operation", "owner"), CELLS)
def test_matrix(world: World, role: str, operation: tuple[str, str], owner: str | None) -> None:
    method, path = operation
    access = ACCESS.get(operation)
    if access is None:
        pytest.fail(f"no expectation written for {method} {path}")
    want = expected(role, access, owner)
    url = target(world, role, path, owner)
    options = BODIES[path](world, role, owner or "") if path in BODIES else {}
    before = world.head()

    answer = world.call(role, method, url, **options)

    assert answer.status_code in want, f"{role} on {owner}: {answer.status_code} {answer.text[:300]}"
    if answer.status_code in (401, 403, 404) and access.allowed != EVERYONE:
        assert world.head() == before, "a refused call wrote to the log"
        assert {"code", "message"} <= answer.json().keys()
    if answer.status_code == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    if answer.status_code == 404 and owner is not None:
        twin_url, real, missing = missing_twin(world, url, owner)
        twin = world.call(role, method, twin_url, **options)
        assert twin.status_code == 404
        assert answer.text.replace(real, "<ref>") == twin.text.replace(missing, "<ref>")


def test_another_departments_item_answers_exactly_like_a_missing_one(world: World) -> None:
    hidden = world.call(OFFICER_B, "GET", f"/api/issues/{world.issues['X']}")
    missing = world.call(OFFICER_B, "GET", "/api/issues/2026-9999")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json() == {"code": "issue_not_found", "message": f"There is no issue {world.issues['X']}."}
    assert missing.json() == {"code": "issue_not_found", "message": "There is no issue 2026-9999."}
    same = {"content-type", "www-authenticate", "allow"}
    assert {k: v for k, v in hidden.headers.items() if k in same} == {
        k: v for k, v in missing.headers.items() if k in same
    }
    by_id = world.call(OFFICER_B, "GET", f"/api/issues/{uuid4()}")
    assert by_id.status_code == 404


def test_officers_see_their_own_departments_board_only(world: World) -> None:
    own = world.call(OFFICER_B, "GET", "/api/board", params={"wait": world.head()})
    assert own.status_code == 200
    assert {row["department"] for row in own.json()["rows"]} == {"water"}
    other = world.call(OFFICER_B, "GET", "/api/board", params={"department": "roads"})
    assert other.status_code == 403
    by_leader = world.call(OFFICER_B, "GET", "/api/board", params={"leader": "officer-a"})
    assert [row["number"] for row in by_leader.json()["rows"]] == [world.issues["L"]]
    led = world.call(OFFICER_A, "GET", "/api/board", params={"leader": "officer-a"})
    assert sorted(row["number"] for row in led.json()["rows"]) == sorted(
        [world.issues["X"], world.issues["L"]]
    )
    everything = world.call(SUPERVISOR, "GET", "/api/board", params={"department": "roads"})
    assert world.issues["X"] in [row["number"] for row in everything.json()["rows"]]


# -- helpers for the focused tests --------------------------------------------------------------


def fresh_item(w: World, *, leader: str | None = None, department: str = "roads", **extra: Any) -> str:
    """A new item (assigned when a leader is given); returns its number."""
    sup = w.headers[SUPERVISOR]
    body = {"title": f"fresh item {w.next()}", "area": "development", "level": "village", "horizon": "near"}
    ref = str(created(w.http.post("/api/issues", headers=sup, json=body | extra))["number"])
    if leader is not None:
        assign = {"leader": leader, "department": department, "goals": ["g"], "measures": ["m"]}
        created(w.http.post(f"/api/issues/{ref}/assign", headers=sup, json=assign | {"deadline": FUTURE}))
    return ref


def events(w: World, ref: str, name: str) -> int:
    history = w.call(SUPERVISOR, "GET", f"/api/issues/{ref}/history")
    assert history.status_code == 200, history.text
    return sum(1 for event in history.json() if event["event"] == name)


def b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def claims(name: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(tz=UTC)
    base: dict[str, Any] = {"sub": name, "aud": AUDIENCE, "iat": now, "exp": now + timedelta(minutes=5)}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


# -- tokens and keys ----------------------------------------------------------------------------


def bad_tokens(secret: str, name: str) -> dict[str, str]:
    good = issue_token(name, secret=secret, minutes=5)
    header, _, signature = good.split(".")
    unsigned = {"alg": "none", "typ": "JWT"}
    forged_payload = b64({"sub": ACCOUNTS[ADMIN][0], "aud": AUDIENCE, "exp": 4_102_444_800})
    other_secret = "not the server's secret, but just as long as one"
    return {
        "alg=none": f"{b64(unsigned)}.{b64(claims(name) | {'iat': 0, 'exp': 4_102_444_800})}.",
        "expired": issue_token(name, secret=secret, minutes=5, now=datetime.now(tz=UTC) - timedelta(hours=1)),
        "wrong audience": jwt.encode(claims(name, aud="someone-else"), secret, algorithm=ALGORITHM),
        "no audience": jwt.encode(claims(name, aud=None), secret, algorithm=ALGORITHM),
        "wrong signature": jwt.encode(claims(name), other_secret, algorithm=ALGORITHM),
        "missing sub": jwt.encode(claims(name, sub=None), secret, algorithm=ALGORITHM),
        "missing exp": jwt.encode(claims(name, exp=None), secret, algorithm=ALGORITHM),
        "HS512 (algorithm not pinned)": jwt.encode(claims(name), secret, algorithm="HS512"),
        "payload swapped to the admin": f"{header}.{forged_payload}.{signature}",
        "unknown account": issue_token("nobody-at-all", secret=secret, minutes=5),
        "not a token": "not-a-token",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "alg=none",
        "expired",
        "wrong audience",
        "no audience",
        "wrong signature",
        "missing sub",
        "missing exp",
        "HS512 (algorithm not pinned)",
        "payload swapped to the admin",
        "unknown account",
        "not a token",
    ],
)
def test_a_bad_token_is_401_and_acts_as_nobody(world: World, kind: str) -> None:
    token = bad_tokens(world.server.services.secret, ACCOUNTS[SUPERVISOR][0])[kind]
    headers = {"Authorization": f"Bearer {token}"}
    before = world.head()
    me = world.http.get("/api/me", headers=headers)
    act = world.http.post(f"/api/issues/{world.issues['Y']}/progress", headers=headers, json={"note": "x"})
    board = world.http.get("/api/board", headers=headers)
    assert (me.status_code, act.status_code, board.status_code) == (401, 401, 401)
    assert me.json()["code"] == "not_signed_in"
    assert me.headers["WWW-Authenticate"] == "Bearer"
    assert world.head() == before


def test_the_same_token_with_its_own_signature_works(world: World) -> None:
    # The control for the test above: the forgeries fail for what they change, nothing else.
    token = issue_token(ACCOUNTS[SUPERVISOR][0], secret=world.server.services.secret, minutes=5)
    me = world.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"name": "supervisor-chen", "role": "supervisor", "department": None}


def test_a_revoked_account_is_401_at_once_and_cannot_sign_in_again(world: World) -> None:
    world.server.account("officer-leaving", Role.OFFICER, "roads")
    world.server.services.credentials.set_password("officer-leaving", PASSWORD)
    headers = sign_in(world.http, "officer-leaving")
    assert world.http.get("/api/board", headers=headers).status_code == 200

    revoked = world.call(ADMIN, "DELETE", "/api/accounts/officer-leaving")

    assert revoked.status_code == 200, revoked.text
    after = world.http.get("/api/board", headers=headers)
    assert after.status_code == 401
    assert after.json() == {"code": "not_signed_in", "message": "This account has been revoked."}
    again = world.http.post("/api/auth/token", data={"username": "officer-leaving", "password": PASSWORD})
    assert again.status_code == 401
    assert again.json()["code"] == "bad_credentials"


def test_a_wrong_password_and_an_unknown_name_answer_alike(world: World) -> None:
    wrong = world.http.post("/api/auth/token", data={"username": "officer-a", "password": "not it at all"})
    unknown = world.http.post(
        "/api/auth/token", data={"username": "nobody-here", "password": "not it at all"}
    )
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert (
        wrong.json()
        == unknown.json()
        == {"code": "bad_credentials", "message": "The name or password is wrong."}
    )


def test_an_api_key_signs_a_machine_in_and_stops_working_when_revoked(world: World) -> None:
    key = world.server.api_key("board-screen", Role.SUPERVISOR)
    headers = {"X-API-Key": key}
    assert world.http.get("/api/me", headers=headers).json()["name"] == "board-screen"
    assert world.http.get("/api/board", headers=headers).status_code == 200
    tampered = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert world.http.get("/api/board", headers={"X-API-Key": tampered}).status_code == 401

    world.server.revoke_key("board-screen", key)

    refused = world.http.get("/api/board", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_signed_in"


def test_an_api_key_of_a_revoked_account_is_401(world: World) -> None:
    key = world.server.api_key("old-kiosk", Role.RECORDER)
    assert world.http.post("/api/opinions", headers={"X-API-Key": key}, json=OPINION).status_code == 201
    assert world.call(ADMIN, "DELETE", "/api/accounts/old-kiosk").status_code == 200
    before = world.head()
    refused = world.http.post("/api/opinions", headers={"X-API-Key": key}, json=OPINION)
    assert refused.status_code == 401
    assert world.head() == before


# -- rate limits (a server of their own, with small limits) -------------------------------------


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("limits") / "var"
    settings = Settings(data_dir=folder, login_per_minute=3, public_submissions_per_minute=3)
    with serve(settings) as server, server.client() as http:
        server.account("officer-a", Role.OFFICER, "roads")
        server.services.credentials.set_password("officer-a", PASSWORD)
        yield World(server, http, {ANONYMOUS: {}})


def until_limited(send: Callable[[], httpx.Response], limit: int) -> list[int]:
    """Send until a 429 (at most two windows' worth: the one-minute window may roll over once)."""
    statuses: list[int] = []
    for _ in range(2 * limit + 1):
        statuses.append(send().status_code)
        if statuses[-1] == 429:
            break
    return statuses


def test_sign_in_is_rate_limited_per_client(strict: World) -> None:
    wrong = {"username": "officer-a", "password": "guessing again"}
    statuses = until_limited(lambda: strict.http.post("/api/auth/token", data=wrong), 3)
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}
    right = strict.http.post("/api/auth/token", data={"username": "officer-a", "password": PASSWORD})
    assert right.status_code == 429, "the right password must not slip past the limit"
    assert right.json() == {"code": "rate_limited", "message": "Too many attempts; wait a minute."}


def test_public_submissions_are_rate_limited_and_a_refused_one_writes_nothing(strict: World) -> None:
    statuses = until_limited(lambda: strict.http.post("/api/public/opinions", json=PUBLIC_OPINION), 3)
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {201}
    before = strict.head()
    again = strict.http.post("/api/public/opinions", json=PUBLIC_OPINION)
    assert again.status_code == 429
    assert again.json()["code"] == "rate_limited"
    assert strict.head() == before


# -- personal data ------------------------------------------------------------------------------


def test_supervisors_see_a_reporters_contact_and_officers_never(world: World) -> None:
    phone, name = "13800138000", "Zhou Min"
    with_contact = OPINION | {"contact": {"name": name, "phone": phone, "address": "7 Well Lane"}}
    voice = str(created(world.call(SUPERVISOR, "POST", "/api/opinions", json=with_contact))["id"])
    ref = fresh_item(world, leader="officer-a", department="roads", opinion_ids=[voice])
    world.server.settle()

    seen = world.call(SUPERVISOR, "GET", f"/api/opinions/{voice}").json()
    assert seen["contact"] == {"name": name, "phone": phone, "address": "7 Well Lane"}
    officer = world.call(OFFICER_A, "GET", f"/api/opinions/{voice}")
    assert officer.status_code == 200
    assert officer.json()["contact"] is None
    for url in (
        f"/api/opinions/{voice}",
        f"/api/issues/{ref}",
        f"/api/issues/{ref}/history",
        f"/api/issues/{ref}/audit",
        "/api/board",
        "/api/feedback",
        "/api/satisfaction",
        "/api/register",
    ):
        answer = world.call(OFFICER_A, "GET", url)
        assert answer.status_code == 200, (url, answer.text)
        assert phone not in answer.text, url
        assert name not in answer.text, url


# -- idempotency and the bad days of SCENARIOS.md -----------------------------------------------


def test_the_same_idempotency_key_twice_answers_the_same_and_acts_once(world: World) -> None:
    sup = world.headers[SUPERVISOR] | {"Idempotency-Key": f"open-{uuid4()}"}
    before = world.head()
    first = world.http.post("/api/issues", headers=sup, json=NEW_ISSUE)
    after_first = world.head()
    second = world.http.post("/api/issues", headers=sup, json=NEW_ISSUE)

    assert (first.status_code, second.status_code) == (201, 201)
    same = ("id", "number", "version")
    assert {k: first.json()[k] for k in same} == {k: second.json()[k] for k in same}
    assert after_first > before
    assert world.head() == after_first, "the repeat wrote to the log"


def test_a_repeated_progress_report_is_recorded_once(world: World) -> None:
    ref = fresh_item(world, leader="officer-a", department="roads")
    headers = world.headers[OFFICER_A] | {"Idempotency-Key": "progress-1"}
    answers = [
        world.http.post(f"/api/issues/{ref}/progress", headers=headers, json={"note": "dug up"})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({a.json()["version"] for a in answers}) == 1
    assert events(world, ref, "ProgressReported") == 1


def test_a_key_reused_for_a_different_request_is_409_and_writes_nothing(world: World) -> None:
    ref = fresh_item(world, leader="officer-a", department="roads")
    headers = world.headers[OFFICER_A] | {"Idempotency-Key": "progress-reused"}
    assert (
        world.http.post(f"/api/issues/{ref}/progress", headers=headers, json={"note": "one"}).status_code
        == 200
    )
    before = world.head()
    reused = world.http.post(f"/api/issues/{ref}/progress", headers=headers, json={"note": "two"})
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    assert world.head() == before


def test_an_assignment_form_submitted_twice_at_once_assigns_once(world: World) -> None:
    ref = fresh_item(world)
    headers = world.headers[SUPERVISOR] | {"Idempotency-Key": f"assign-form-{ref}"}
    body = {
        "leader": "officer-a",
        "department": "roads",
        "goals": ["g"],
        "measures": ["m"],
        "deadline": FUTURE,
    }
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(2)

    def click() -> None:
        with world.server.client() as own:
            barrier.wait()
            answers.append(own.post(f"/api/issues/{ref}/assign", headers=headers, json=body))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert answers[0].json()["version"] == answers[1].json()["version"]
    assert events(world, ref, "LeaderAssigned") == 1


def test_an_assignment_submitted_twice_without_a_key_is_refused_clearly_the_second_time(world: World) -> None:
    ref = fresh_item(world)
    body = {
        "leader": "officer-a",
        "department": "roads",
        "goals": ["g"],
        "measures": ["m"],
        "deadline": FUTURE,
    }
    first = world.call(SUPERVISOR, "POST", f"/api/issues/{ref}/assign", json=body)
    second = world.call(SUPERVISOR, "POST", f"/api/issues/{ref}/assign", json=body)
    assert (first.status_code, second.status_code) == (200, 409)
    assert second.json() == {
        "code": "leader_already_assigned",
        "message": f"Issue {ref} already has a leader (officer-a); hand it over instead.",
    }
    assert events(world, ref, "LeaderAssigned") == 1


@pytest.mark.parametrize(
    ("path", "field_name"),
    [("/api/issues", "description"), ("/api/public/opinions", "text"), ("/api/opinions", "text")],
)
def test_a_5_mb_text_is_refused_and_nothing_is_written(world: World, path: str, field_name: str) -> None:
    body = {"/api/issues": NEW_ISSUE, "/api/public/opinions": PUBLIC_OPINION}.get(path, OPINION)
    before = world.head()
    answer = world.call(SUPERVISOR, "POST", path, json=body | {field_name: "x" * 5_000_000})
    assert answer.status_code == 413, "an oversized body is refused before it is read"
    assert len(answer.content) < 10_000, "the refusal must not echo the text back"
    assert "larger than" in answer.json()["message"]
    assert world.head() == before


def test_a_5_mb_progress_note_is_refused_and_nothing_is_written(world: World) -> None:
    before = world.head()
    answer = world.call(
        OFFICER_A, "POST", f"/api/issues/{world.issues['X']}/progress", json={"note": "x" * 5_000_000}
    )
    assert answer.status_code in (413, 422)
    assert len(answer.content) < 10_000
    assert world.head() == before


def test_a_deadline_in_1970_is_a_clear_409_and_nothing_is_written(world: World) -> None:
    ref = fresh_item(world)
    body = {"leader": "officer-a", "department": "roads", "goals": ["g"], "measures": ["m"]}
    before = world.head()
    answer = world.call(
        SUPERVISOR, "POST", f"/api/issues/{ref}/assign", json=body | {"deadline": "1970-01-01T00:00:00Z"}
    )
    assert answer.status_code == 409
    assert answer.json() == {
        "code": "deadline_in_past",
        "message": "The deadline 1970-01-01 00:00 UTC has already passed.",
    }
    assert world.head() == before
    assert events(world, ref, "LeaderAssigned") == 0


def test_a_deadline_without_a_time_zone_is_422_naming_the_field(world: World) -> None:
    ref = fresh_item(world)
    body = {"leader": "officer-a", "department": "roads", "goals": ["g"], "measures": ["m"]}
    before = world.head()
    answer = world.call(
        SUPERVISOR, "POST", f"/api/issues/{ref}/assign", json=body | {"deadline": "2026-06-01T00:00:00"}
    )
    assert answer.status_code == 422
    assert answer.json()["message"].startswith("deadline:")
    assert world.head() == before


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [
        (SUPERVISOR, "/api/issues", NEW_ISSUE | {"number": "2026-0001"}),
        (SUPERVISOR, "/api/issues", NEW_ISSUE | {"stage": "closed"}),
        (SUPERVISOR, "/api/issues", NEW_ISSUE | {"id": "00000000-0000-0000-0000-000000000001"}),
        (ADMIN, "/api/accounts", {"name": "sneaky", "role": "recorder", "active": False}),
        (ADMIN, "/api/accounts", {"name": "sneaky", "role": "recorder", "granted_by": "nobody"}),
        (ANONYMOUS, "/api/public/opinions", PUBLIC_OPINION | {"recorder": "officer-a"}),
        (ANONYMOUS, "/api/public/opinions", PUBLIC_OPINION | {"channel": "reception"}),
        (RECORDER, "/api/opinions", OPINION | {"issue_id": "00000000-0000-0000-0000-000000000001"}),
        (OFFICER_A, "/api/issues/{X}/progress", {"note": "n", "actor": "supervisor-chen"}),
        (OFFICER_A, "/api/issues/{X}/hand-over", {"to": "someone", "reason": "r", "leader": "officer-a"}),
        (
            SUPERVISOR,
            "/api/issues/{X}/extend-deadline",
            {"deadline": LATER, "reason": "r", "approver": "a"} | {"x": 1},
        ),
    ],
)
def test_an_unknown_field_is_422_and_nothing_is_written(
    world: World, role: str, path: str, body: dict[str, Any]
) -> None:
    before = world.head()
    answer = world.call(role, "POST", path.replace("{X}", world.issues["X"]), json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_request"
    assert {problem["type"] for problem in answer.json()["detail"]} == {"extra_forbidden"}
    assert world.head() == before


def test_a_query_can_wait_until_the_views_include_a_write(world: World) -> None:
    opened = world.call(SUPERVISOR, "POST", "/api/issues", json=NEW_ISSUE | {"title": "read your writes"})
    number, position = opened.json()["number"], opened.json()["position"]
    board = world.call(
        SUPERVISOR, "GET", "/api/board", params={"wait": position, "sort": "opened", "descending": True}
    )
    assert number in [row["number"] for row in board.json()["rows"]]


def test_waiting_for_a_position_never_handed_out_does_not_hold_the_request(world: World) -> None:
    # Anyone may send wait=2**62; before the fix each such request held a worker thread for the
    # full 5 s wait. The bound below is the behaviour (no wait), not a performance figure.
    started = datetime.now(tz=UTC)
    answer = world.call(SUPERVISOR, "GET", "/api/board", params={"wait": 2**62})
    assert answer.status_code == 200
    assert datetime.now(tz=UTC) - started < timedelta(seconds=4)


VIEW_QUERIES = [
    "/api/board",
    "/api/overdue",
    "/api/ledger",
    "/api/satisfaction",
    "/api/feedback",
    "/api/register",
    "/api/exports/{view}.{fmt}",
]  # (an item's audit trail is read from the event log itself: nothing to wait for)


def test_every_query_over_the_views_accepts_wait() -> None:
    schema = create_app(Settings(data_dir=Path(tempfile.gettempdir()) / "caseline-openapi-only")).openapi()
    for path in VIEW_QUERIES:
        names = [p["name"] for p in schema["paths"][path]["get"].get("parameters", [])]
        assert "wait" in names, path


def test_a_public_submission_is_in_the_feedback_tracker_when_asked_to_wait_for_it(world: World) -> None:
    submitted = world.call(ANONYMOUS, "POST", "/api/public/opinions", json=PUBLIC_OPINION).json()
    tracker = world.call(
        SUPERVISOR, "GET", "/api/feedback", params={"wait": submitted["position"], "limit": 5000}
    )
    assert submitted["id"] in [row["opinion_id"] for row in tracker.json()]


def test_two_officers_reporting_progress_at_the_same_second_are_both_recorded(world: World) -> None:
    ref = fresh_item(world, leader="officer-a", department="water")  # officer A leads, B's department
    barrier = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def report(role: str) -> None:
        with world.server.client() as own:
            barrier.wait()
            answers[role] = own.post(
                f"/api/issues/{ref}/progress", headers=world.headers[role], json={"note": f"{role} on site"}
            )

    officers = [threading.Thread(target=report, args=(role,)) for role in (OFFICER_A, OFFICER_B)]
    for thread in officers:
        thread.start()
    for thread in officers:
        thread.join()

    assert {role: a.status_code for role, a in answers.items()} == {OFFICER_A: 200, OFFICER_B: 200}
    assert sorted(a.json()["version"] for a in answers.values()) == [3, 4]
    assert events(world, ref, "ProgressReported") == 2
