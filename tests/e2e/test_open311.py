"""Open311 GeoReport v2 conformance, written from the specification (wiki.open311.org/GeoReport_v2),
against a live server on 127.0.0.1, in both formats.

Every answer is read the way a client would: JSON with `json`, XML with `xml.etree` after
checking the declaration, then both brought to the spec's common shape (the Spark convention:
list containers become lists, other elements objects, leaves text), so one set of
expectations holds for both formats. Staff work (merging, assigning, disclosing, closing)
goes through the workflow the server runs on, as it would through the officers' screens.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import TypeAdapter

from api.open311 import (
    DiscoveryOut,
    ErrorOut,
    RequestOut,
    ServiceDefinitionOut,
    ServiceOut,
    SubmittedOut,
    TokenOut,
)
from api.settings import GridBox, Settings
from domain.rules import Actor, Area, Kind, Role
from projections import queries
from projections.open311 import token_for
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import START, LiveServer, serve
from tests.integration.viewtools import snapshot

V2 = "/open311/v2"
FORMATS = ("json", "xml")
GRID = GridBox(unit="grid 4", south=30.74, west=120.74, north=30.76, east=120.77)
IN_GRID = {"lat": "30.75", "long": "120.755"}
JURISDICTION = "yanghang.example"
LISTS = {"services", "service_requests", "errors", "endpoints", "formats", "attributes", "values"}
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
OFFICER = Actor("officer-li", role=Role.OFFICER)
SUPERVISOR = Actor("supervisor-chen", role=Role.SUPERVISOR)


# -- reading answers as a client does --------------------------------------------------------------


def spark(element: ET.Element) -> Any:
    """XML to the spec's JSON shape (Spark convention), every leaf as text or None."""
    if element.tag in LISTS:
        return [spark(child) for child in element]
    if len(element):
        return {child.tag: spark(child) for child in element}
    return element.text


def textual(value: Any) -> Any:
    """JSON with every scalar as XML would carry it, so both formats compare alike."""
    if isinstance(value, dict):
        return {key: textual(item) for key, item in value.items()}
    if isinstance(value, list):
        return [textual(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return value


def read(response: httpx.Response, fmt: str) -> Any:
    """The body in the common shape, after checking the format's headers and encoding."""
    content_type = response.headers["content-type"].replace(" ", "").lower()
    if fmt == "xml":
        assert content_type == "text/xml;charset=utf-8"
        assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = ET.fromstring(response.content)
        return spark(root)
    assert content_type == "application/json;charset=utf-8"
    return textual(json.loads(response.content.decode("utf-8")))


def root_tag(response: httpx.Response) -> str:
    return ET.fromstring(response.content).tag


def get(http: httpx.Client, path: str, fmt: str, **params: str) -> tuple[int, Any]:
    response = http.get(f"{V2}/{path}.{fmt}", params=params)
    return response.status_code, read(response, fmt)


def post(http: httpx.Client, fmt: str, form: dict[str, Any], **headers: str) -> tuple[int, Any]:
    response = http.post(f"{V2}/requests.{fmt}", data=form, headers=headers)
    return response.status_code, read(response, fmt)


def error_of(status: int, body: Any) -> str:
    """The single spec error's description, checking its shape and code on the way."""
    assert isinstance(body, list), body
    assert len(body) == 1, body
    assert set(body[0]) == {"code", "description"}
    assert body[0]["code"] == str(status)
    description: str = body[0]["description"]
    assert description
    return description


# -- the server ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("open311") / "var",
        open311_grids=[GRID],
        open311_jurisdiction=JURISDICTION,
        public_submissions_per_minute=10_000,
    )
    with serve(settings) as live:
        yield live


@pytest.fixture(scope="module")
def key(server: LiveServer) -> str:
    return server.api_key("bench-app", Role.RECORDER)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def submit(http: httpx.Client, key: str | None, **fields: Any) -> str:
    """POST a request (JSON answer) and return its service_request_id, or its token if given one."""
    form = {"service_code": "difficulty-livelihood", **IN_GRID, **fields}
    if key is not None:
        form["api_key"] = key
    status, body = post(http, "json", form)
    assert status == 201, body
    (answer,) = body
    return str(answer.get("service_request_id") or answer["token"])


def tracked(server: LiveServer, *, token: str | None = None, opinion_id: str | None = None) -> dict[str, Any]:
    """The request's row in the feedback tracker (the staff's view), found by its token or id."""
    server.settle()
    for row in queries.unanswered(server.services.projector.db, now=START, limit=100_000):
        if row["opinion_id"] == opinion_id or (token and token_for(UUID(row["opinion_id"])) == token):
            return row
    raise AssertionError(f"no unanswered opinion for token {token} / id {opinion_id}")


def one(http: httpx.Client, request_id: str, fmt: str = "json") -> dict[str, Any]:
    status, body = get(http, f"requests/{request_id}", fmt)
    assert status == 200, body
    assert len(body) == 1
    found: dict[str, Any] = body[0]
    return found


# -- discovery, encoding ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_v2_endpoint_and_both_formats(http: httpx.Client, fmt: str) -> None:
    status, body = get(http, "discovery", fmt)
    assert status == 200
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    assert body["contact"]
    assert body["key_service"]
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == str(http.base_url).rstrip("/") + V2
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert W3C.match(body["changeset"])
    assert W3C.match(endpoint["changeset"])


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("discovery", "discovery"),
        ("services", "services"),
        ("services/disaster-security", "service_definition"),
        ("requests", "service_requests"),
        ("services/no-such-service", "errors"),
    ],
)
def test_xml_answers_are_declared_utf8_documents_with_the_spec_root(
    http: httpx.Client, path: str, root: str
) -> None:
    response = http.get(f"{V2}/{path}.xml")
    read(response, "xml")  # declaration, content type, well-formed
    assert root_tag(response) == root
    assert b"xmlns" not in response.content  # schemaless, no namespace (the spec's XML Support)


def test_a_method_a_resource_lacks_is_405_naming_every_method_it_has(http: httpx.Client) -> None:
    response = http.request("OPTIONS", f"{V2}/requests.json")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    error_of(405, read(response, "json"))
    response = http.delete(f"{V2}/services.xml")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    error_of(405, read(response, "xml"))


def test_unknown_format_and_unknown_resources_answer_spec_errors(http: httpx.Client) -> None:
    response = http.get(f"{V2}/services.yaml")
    assert response.status_code == 400
    error_of(400, read(response, "json"))
    for path in ("nothing-here.xml", "requests/nope/deeper.xml"):
        response = http.get(f"{V2}/{path}")
        assert response.status_code == 404
        error_of(404, read(response, "xml"))


# -- services ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_service_list_offers_every_kind_of_voice_in_every_area(http: httpx.Client, fmt: str) -> None:
    status, services = get(http, "services", fmt)
    assert status == 200
    assert [s["service_code"] for s in services] == [f"{k}-{a}" for k in Kind for a in Area]
    for service in services:
        assert set(service) == {
            "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
        }  # fmt: skip
        assert service["metadata"] in ("true", "false")
        kind = service["service_code"].split("-")[0]
        assert service["type"] == ("batch" if kind in ("dispute", "disaster") else "realtime")
        assert service["service_name"]
        assert service["description"]
        assert service["keywords"]
        assert service["group"]
    by_code = {s["service_code"]: s for s in services}
    assert "困难" in by_code["difficulty-security"]["service_name"]  # UTF-8 survives both formats
    assert by_code["difficulty-security"]["group"] == by_code["opinion-security"]["group"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_metadata_is_true_exactly_when_the_definition_has_attributes(http: httpx.Client, fmt: str) -> None:
    _, services = get(http, "services", fmt)
    for service in services:
        status, definition = get(http, f"services/{service['service_code']}", fmt)
        assert status == 200
        assert definition["service_code"] == service["service_code"]
        assert service["metadata"] == ("true" if definition["attributes"] else "false")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_service_definition_describes_each_attribute(http: httpx.Client, fmt: str) -> None:
    status, definition = get(http, "services/disaster-security", fmt)
    assert status == 200
    attributes = definition["attributes"]
    assert [a["code"] for a in attributes] == ["notice", "injured", "needs", "households"]
    assert [a["order"] for a in attributes] == ["1", "2", "3", "4"]
    for attribute in attributes:
        assert set(attribute) == {
            "variable", "code", "datatype", "required", "datatype_description", "order", "description",
            "values",
        }  # fmt: skip
        assert attribute["datatype"] in (
            "string", "number", "datetime", "text", "singlevaluelist", "multivaluelist",
        )  # fmt: skip
        assert attribute["variable"] in ("true", "false")
        assert attribute["required"] in ("true", "false")
        assert attribute["description"]
        if attribute["datatype"].endswith("valuelist"):
            assert attribute["values"]
            assert all(set(v) == {"key", "name"} for v in attribute["values"])
        else:
            assert attribute["values"] == []
    notice, injured, needs, _ = attributes
    assert notice["variable"] == "false"  # shown to the user, asks for nothing
    assert injured["required"] == "true"
    assert injured["datatype"] == "singlevaluelist"
    assert [v["key"] for v in injured["values"]] == ["yes", "no", "unknown"]
    assert needs["datatype"] == "multivaluelist"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_service_without_attributes_has_an_empty_definition(http: httpx.Client, fmt: str) -> None:
    status, definition = get(http, "services/opinion-culture", fmt)
    assert status == 200
    assert definition == {"service_code": "opinion-culture", "attributes": []}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_service_code_is_404(http: httpx.Client, fmt: str) -> None:
    status, body = get(http, "services/potholes", fmt)
    assert status == 404
    assert "potholes" in error_of(404, body)


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction_id_is_optional_but_a_wrong_one_is_404(http: httpx.Client, fmt: str) -> None:
    assert get(http, "services", fmt, jurisdiction_id=JURISDICTION)[0] == 200
    assert get(http, "services", fmt, jurisdiction_id="")[0] == 200  # empty is the same as absent
    status, body = get(http, "services", fmt, jurisdiction_id="sfgov.org")
    assert status == 404
    assert "jurisdiction_id" in error_of(404, body)


# -- submitting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_key_holder_posting_lat_long_gets_a_service_request_id(
    server: LiveServer, http: httpx.Client, key: str, fmt: str
) -> None:
    form = {
        "api_key": key, "jurisdiction_id": JURISDICTION, "service_code": "difficulty-livelihood", **IN_GRID,
        "description": "公园长椅坏了 The bench by the pond is broken.", "media_url": "https://img.example/b.jpg",
        "first_name": "Mei", "last_name": "Wang", "phone": "+86 138 0000 0000", "email": "mei@example.cn",
        "account_id": "app-user-7", "device_id": "device-7", "attribute[households]": "2",
    }  # fmt: skip
    status, body = post(http, fmt, form)
    assert status == 201
    (answer,) = body
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}  # no token beside an id
    assert answer["account_id"] == "app-user-7"
    assert answer["service_notice"]
    request_id = answer["service_request_id"]

    shown = one(http, request_id, fmt)
    assert shown["status"] == "open"
    assert shown["service_code"] == "difficulty-livelihood"
    assert (shown["lat"], shown["long"]) == ("30.75", "120.755")
    assert shown["media_url"] == "https://img.example/b.jpg"
    assert W3C.match(shown["requested_datetime"])
    assert W3C.match(shown["updated_datetime"])

    opinion = server.services.workflow.get_opinion(UUID(request_id))
    assert (opinion.kind, opinion.area, opinion.channel) == ("difficulty", "livelihood", "online")
    assert opinion.unit == "grid 4"  # the grid the location falls in (scenario 3)
    assert opinion.text.startswith("公园长椅坏了 The bench by the pond is broken.")
    assert "How many households does it affect? 2" in opinion.text
    contact = server.services.workflow.contact(opinion.id)
    assert contact is not None
    assert (contact.name, contact.phone, contact.address) == (
        "Mei Wang",
        "+86 138 0000 0000",
        "mei@example.cn",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_address_string_is_enough_and_round_trips_in_utf8(
    server: LiveServer, http: httpx.Client, key: str, fmt: str
) -> None:
    address = "杨行镇 7号楼后巷 <lane> & \"back\" 'alley'"
    status, body = post(
        http, fmt, {"api_key": key, "service_code": "opinion-environment", "address_string": address}
    )
    assert status == 201
    request_id = body[0]["service_request_id"]
    shown = one(http, request_id, fmt)
    assert shown["address"] == address
    assert shown["lat"] is None
    assert shown["long"] is None
    assert server.services.workflow.get_opinion(UUID(request_id)).unit == "unassigned"  # no coordinates


def test_an_address_id_is_enough(http: httpx.Client, key: str) -> None:
    request_id = submit(http, key, lat="", long="", address_id="545483")
    shown = one(http, request_id)
    assert shown["address_id"] == "545483"
    assert shown["lat"] is None


def test_a_location_outside_every_grid_lands_in_the_default_unit(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    request_id = submit(http, key, lat="31.2", long="121.4")
    assert server.services.workflow.get_opinion(UUID(request_id)).unit == "unassigned"


def test_blank_optional_arguments_count_as_not_given(http: httpx.Client, key: str) -> None:
    request_id = submit(
        http, key, email="", phone="", first_name="", last_name="", description="", media_url="",
        address_string="", address_id="", account_id="", device_id="", jurisdiction_id="",
    )  # fmt: skip
    assert one(http, request_id)["media_url"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"attribute[injured]": "yes", "attribute[colour]": "red"}, "attribute[colour]"),
        ({}, "attribute[injured] is required"),
        ({"attribute[injured]": "maybe"}, "attribute[injured] must be one of yes, no, unknown"),
        ({"attribute[injured]": ["yes", "no"]}, "takes one value"),
        ({"attribute[injured]": "yes", "attribute[needs][]": ["food", "gold"]}, "attribute[needs]"),
        ({"attribute[injured]": "yes", "attribute[households]": "several"}, "attribute[households]"),
        ({"attribute[injured]": "yes", "attribute[households]": "nan"}, "attribute[households]"),
        ({"attribute[injured]": "yes", "attributes": "x"}, "attribute[code]"),
    ],
)
def test_attributes_are_checked_against_the_service_definition(
    http: httpx.Client, key: str, fields: dict[str, Any], message: str
) -> None:
    form = {"api_key": key, "service_code": "disaster-security", **IN_GRID, **fields}
    status, body = post(http, "json", form)
    assert status == 400
    assert message in error_of(400, body)


@pytest.mark.parametrize(
    ("service_code", "fields", "message"),
    [
        ("difficulty-security", {"attribute[since]": "2026-03-01T08:00:00"}, "time zone"),
        ("difficulty-security", {"attribute[landmark]": "two\nlines"}, "line breaks"),
        ("dispute-security", {"attribute[history]": "x" * 1001}, "at most 1000"),
    ],
)
def test_attribute_datatypes_are_enforced(
    http: httpx.Client, key: str, service_code: str, fields: dict[str, str], message: str
) -> None:
    status, body = post(http, "json", {"api_key": key, "service_code": service_code, **IN_GRID, **fields})
    assert status == 400
    assert message in error_of(400, body)


def test_valid_attributes_of_every_datatype_are_accepted_and_kept_privately(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    token = submit(
        http, key, service_code="disaster-security",
        **{"attribute[injured]": "no", "attribute[needs][]": ["food", "medical"],
           "attribute[households]": "3", "attribute[notice]": "ignored: a notice takes no input"},
    )  # fmt: skip
    submit(
        http, key, service_code="difficulty-security",
        **{"attribute[since]": "2026-02-01T08:00:00+08:00", "attribute[landmark]": "Building 7"},
    )  # fmt: skip
    submit(http, key, service_code="dispute-security", **{"attribute[history]": "Talked twice.\nNo luck."})
    opinion = server.services.workflow.get_opinion(UUID(tracked(server, token=token)["opinion_id"]))
    assert "What help is needed now? Food and water, Medical care" in opinion.text
    assert "Was anyone hurt? No" in opinion.text
    assert "ignored" not in opinion.text
    assert len(token) == 32  # a batch service answers with a token, even to a key-holder


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrong_api_key_is_403(http: httpx.Client, fmt: str) -> None:
    for wrong in ("cl_000000000000_nope", "not-a-key"):
        status, body = post(http, fmt, {"api_key": wrong, "service_code": "opinion-culture", **IN_GRID})
        assert status == 403
        assert "api_key" in error_of(403, body)


def test_a_revoked_key_or_account_is_403(server: LiveServer, http: httpx.Client) -> None:
    key = server.api_key("retired-app")
    assert submit(http, key)
    server.revoke_key("retired-app", key)
    status, _ = post(http, "json", {"api_key": key, "service_code": "opinion-culture", **IN_GRID})
    assert status == 403
    other = server.api_key("closed-app")
    server.services.workflow.revoke_account(SUPERVISOR, "closed-app", reason="contract ended")
    status, _ = post(http, "json", {"api_key": other, "service_code": "opinion-culture", **IN_GRID})
    assert status == 403


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_service_code_is_400_and_an_unknown_one_404(http: httpx.Client, key: str, fmt: str) -> None:
    status, body = post(http, fmt, {"api_key": key, **IN_GRID})
    assert status == 400
    assert "service_code" in error_of(400, body)
    status, body = post(http, fmt, {"api_key": key, "service_code": "potholes", **IN_GRID})
    assert status == 404
    assert "potholes" in error_of(404, body)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ({}, "location is required"),
        ({"lat": "30.75"}, "both lat and long"),
        ({"long": "120.7"}, "both lat and long"),
        ({"lat": "91", "long": "120.7"}, "lat must be a number between -90 and 90"),
        ({"lat": "30.7", "long": "-181"}, "long must be"),
        ({"lat": "NaN", "long": "120.7"}, "lat must be"),
        ({"lat": "north", "long": "120.7"}, "lat must be a number"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_or_broken_location_is_400(
    http: httpx.Client, key: str, fmt: str, location: dict[str, str], message: str
) -> None:
    status, body = post(http, fmt, {"api_key": key, "service_code": "opinion-culture", **location})
    assert status == 400
    assert message in error_of(400, body)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": "x" * 4001}, "at most 4000"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"media_url": "http://[oops/photo.jpg"}, "media_url"),
        ({"first_name": "M" * 120, "last_name": "W"}, "first_name is too long"),
        ({"email": "not an address"}, "email"),
        ({"first_name": "Mei\x00"}, "control characters"),
        ({"service_code": ["opinion-culture", "opinion-culture"]}, "once"),
    ],
)
def test_bad_optional_arguments_are_400(
    http: httpx.Client, key: str, fields: dict[str, Any], message: str
) -> None:
    status, body = post(
        http, "json", {"api_key": key, "service_code": "opinion-culture", **IN_GRID, **fields}
    )
    assert status == 400
    assert message in error_of(400, body)


def test_only_form_encoded_utf8_bodies_are_accepted(http: httpx.Client, key: str) -> None:
    as_json = http.post(f"{V2}/requests.xml", json={"api_key": key, "service_code": "opinion-culture"})
    assert as_json.status_code == 400
    error_of(400, read(as_json, "xml"))
    latin1 = http.post(
        f"{V2}/requests.json",
        content=b"service_code=opinion-culture&address_string=%E9",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "X-Ignored": "1"},
    )
    assert latin1.status_code == 400
    huge = http.post(
        f"{V2}/requests.json", content=b"description=" + b"x" * 70_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert huge.status_code == 400


def test_a_repeat_with_the_same_idempotency_key_is_the_same_request(http: httpx.Client, key: str) -> None:
    form = {"api_key": key, "service_code": "suggestion-development", **IN_GRID, "description": "More buses"}
    first = post(http, "json", form, **{"Idempotency-Key": "app-7-req-1"})
    again = post(http, "json", form, **{"Idempotency-Key": "app-7-req-1"})
    assert first[0] == again[0] == 201
    assert first[1][0]["service_request_id"] == again[1][0]["service_request_id"]


# -- tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_anonymous_request_gets_a_token_that_resolves_once_triaged(
    server: LiveServer, http: httpx.Client, fmt: str
) -> None:
    status, body = post(
        http, fmt, {"service_code": "difficulty-environment", **IN_GRID, "description": "垃圾"}
    )
    assert status == 201
    (answer,) = body
    assert set(answer) == {"token", "service_notice", "account_id"}  # no id beside a token
    token = answer["token"]

    status, body = get(http, f"tokens/{token}", fmt)
    assert status == 200
    assert body == [{"service_request_id": None, "token": token}]  # awaiting triage

    opinion = tracked(server, token=token)
    request_id = opinion["opinion_id"]
    assert opinion["unit"] == "grid 4"
    assert get(http, f"requests/{request_id}", fmt)[0] == 404  # not listed before triage
    _, listed = get(http, "requests", fmt, service_request_id=request_id)
    assert listed == []

    result = server.services.workflow.route_opinion(
        SUPERVISOR, UUID(request_id), route="coordinate", reason="The sanitation crew will look."
    )
    server.settle(result.position)
    status, body = get(http, f"tokens/{token}", fmt)
    assert body == [{"service_request_id": request_id, "token": token}]
    assert one(http, request_id, fmt)["status"] == "open"


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_token_is_404(http: httpx.Client, fmt: str) -> None:
    for token in ("0" * 32, "not-a-token"):
        status, body = get(http, f"tokens/{token}", fmt)
        assert status == 404
        assert "token" in error_of(404, body)


def test_a_batch_request_keeps_its_place_private_even_once_listed(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    token = submit(
        http, key, service_code="dispute-livelihood", address_string="Flat 302, Building 9",
        media_url="https://img.example/neighbours.jpg",
    )  # fmt: skip
    assert get(http, f"tokens/{token}", "json")[1][0]["service_request_id"] is None
    opinion_id = tracked(server, token=token)["opinion_id"]
    server.settle(
        server.services.workflow.route_opinion(
            SUPERVISOR, UUID(opinion_id), route="coordinate", reason="Mediate."
        ).position
    )
    shown = one(http, opinion_id)
    assert (shown["address"], shown["lat"], shown["long"], shown["media_url"]) == (None, None, None, None)


# -- listing and filters -----------------------------------------------------------------------------


def test_service_request_id_overrides_every_other_argument(http: httpx.Client, key: str) -> None:
    first = submit(http, key, service_code="opinion-development")
    second = submit(http, key, service_code="suggestion-environment")
    status, body = get(
        http, "requests", "json", service_request_id=f"{first}, {second},{uuid4()},junk",
        service_code="opinion-conduct", status="closed", start_date="2001-01-01T00:00:00Z",
        end_date="2001-01-02T00:00:00Z",
    )  # fmt: skip
    assert status == 200
    assert sorted(r["service_request_id"] for r in body) == sorted([first, second])


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_code_and_status_filter_with_comma_lists(
    server: LiveServer, http: httpx.Client, key: str, fmt: str
) -> None:
    fixed = submit(http, key, service_code="opinion-conduct")
    waiting = submit(http, key, service_code="suggestion-conduct")
    workflow = server.services.workflow
    workflow.route_opinion(SUPERVISOR, UUID(fixed), route="fix_at_once", reason="Done on the spot.")
    server.settle(workflow.answer_opinion(OFFICER, UUID(fixed), feedback="Fixed today.").position)

    def ids(**params: str) -> set[str]:
        status, body = get(http, "requests", fmt, **params)
        assert status == 200
        return {r["service_request_id"] for r in body}

    both = ids(service_code="opinion-conduct,suggestion-conduct")
    assert {fixed, waiting} <= both
    assert all(
        r["service_code"] in ("opinion-conduct", "suggestion-conduct")
        for r in get(http, "requests", fmt, service_code="opinion-conduct,suggestion-conduct")[1]
    )
    assert fixed in ids(service_code="opinion-conduct,suggestion-conduct", status="closed")
    assert waiting not in ids(service_code="opinion-conduct,suggestion-conduct", status="closed")
    assert waiting in ids(service_code="suggestion-conduct", status="open")
    assert {fixed, waiting} <= ids(service_code="opinion-conduct,suggestion-conduct", status="open,closed")
    assert {fixed, waiting} <= ids(service_code="opinion-conduct,suggestion-conduct", status="")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "pending"}, "status"),
        ({"status": "OPEN"}, "status"),  # the spec's values, as written
        ({"start_date": "2026-02-29T00:00:00Z"}, "not a valid date-time"),
        ({"service_code": "opinion-conduct,potholes"}, "potholes"),
        ({"start_date": "2026-01-01"}, "W3C"),
        ({"end_date": "2026-01-01T00:00:00"}, "time zone"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:01Z"}, "90 days"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "after"),
        ({"page_size": "1001"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"service_request_id": ",".join(str(uuid4()) for _ in range(201))}, "at most 200"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_filters_are_400(http: httpx.Client, fmt: str, params: dict[str, str], message: str) -> None:
    status, body = get(http, "requests", fmt, **params)
    assert status == 400
    assert message in error_of(400, body)


def test_the_default_window_is_the_last_90_days_and_any_window_spans_at_most_90(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    clock = server.clock
    try:
        clock.set(START - timedelta(days=100))
        old = submit(http, key, service_code="opinion-culture")
        clock.set(START - timedelta(days=10))
        recent = submit(http, key, service_code="opinion-culture")
    finally:
        clock.set(START)
    server.settle()

    def ids(**params: str) -> list[str]:
        status, body = get(http, "requests", "json", service_code="opinion-culture", **params)
        assert status == 200
        return [r["service_request_id"] for r in body]

    def w3c(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    assert recent in ids()
    assert old not in ids()
    window = ids(start_date=w3c(START - timedelta(days=120)), end_date=w3c(START - timedelta(days=31)))
    assert old in window
    assert recent not in window
    start_only = ids(start_date=w3c(START - timedelta(days=101)))  # 90 days from the start
    assert old in start_only
    assert recent not in start_only
    end_only = ids(end_date=w3c(START - timedelta(days=5)))  # the 90 days up to the end
    assert recent in end_only
    assert old not in end_only
    exact = ids(
        start_date=(START - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        end_date=(START - timedelta(days=100)).astimezone().isoformat(timespec="seconds"),
    )
    assert exact == [old]  # bounds are inclusive, in any time zone
    plus_as_space = ids(
        start_date=(START - timedelta(days=100, hours=-8)).strftime("%Y-%m-%dT%H:%M:%S 08:00")
    )
    assert old in plus_as_space  # an unencoded "+" arrives as a space; it is read back
    newest_first = ids(start_date=w3c(START - timedelta(days=100)), end_date=w3c(START - timedelta(days=10)))
    assert newest_first.index(recent) < newest_first.index(old)
    assert one(http, old)["requested_datetime"] == w3c(START - timedelta(days=100))


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "0001-01-01T00:00:00+05:00"},
        {"end_date": "0001-01-01T00:00:00+05:00"},
        {"start_date": "9999-12-31T23:59:59-05:00"},
        {"start_date": "0001-01-01T00:00:00Z", "end_date": "0001-03-01T00:00:00Z"},
    ],
)
def test_windows_at_the_ends_of_the_calendar_answer_an_empty_list(
    http: httpx.Client, params: dict[str, str]
) -> None:
    assert get(http, "requests", "json", **params) == (200, [])


def test_page_and_page_size_walk_the_list_without_overlap(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    made = {submit(http, key, service_code="suggestion-livelihood") for _ in range(5)}
    server.settle()  # lists are read from the views, which follow the log (ids and tokens wait for them)

    def page(number: int) -> list[str]:
        _, body = get(
            http, "requests", "json", service_code="suggestion-livelihood", page=str(number), page_size="2"
        )
        return [r["service_request_id"] for r in body]

    pages = [page(1), page(2), page(3), page(4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert {i for p in pages for i in p} == made


# -- status across the lifecycle ---------------------------------------------------------------------


def test_status_and_notes_follow_the_issue_and_only_what_was_disclosed(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    workflow, clock = server.services.workflow, server.clock
    request_id = submit(http, key, service_code="difficulty-security", description="Dark lane, old man fell.")

    def shown() -> dict[str, Any]:
        server.settle()
        json_view = one(http, request_id, "json")
        assert one(http, request_id, "xml") == json_view  # both formats say the same
        return json_view

    opened = workflow.open_issue(
        OFFICER, title="Street lights for the back lanes of grid 4", area="security", level="village",
        horizon="near", opinion_ids=[UUID(request_id)],
    )  # fmt: skip
    issue = opened.id
    state = shown()
    assert state["status"] == "open"
    assert state["description"] is None
    assert state["status_notes"] is None

    deadline = START + timedelta(days=30)
    workflow.assign_leader(
        OFFICER, issue, leader="Zhang", department="Public works office", goals=["lights working"],
        measures=["move the cable"], deadline=deadline,
    )  # fmt: skip
    workflow.report_progress(OFFICER, issue, note="UNDISCLOSED-PROGRESS-7f3a: the cable is Zhang's cousin's.")
    state = shown()
    assert (state["agency_responsible"], state["expected_datetime"], state["status_notes"]) == (
        None,
        None,
        None,
    )

    workflow.report_progress(OFFICER, issue, note="Power company asked to move the cable.")
    workflow.disclose(
        OFFICER, issue, fields=["title", "department", "deadline", "progress"], where="village bulletin board"
    )
    state = shown()
    assert state["status"] == "open"
    assert state["status_notes"] == "Power company asked to move the cable."
    assert state["agency_responsible"] == "Public works office"
    assert state["expected_datetime"] == deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert state["description"] == "Street lights for the back lanes of grid 4"

    try:
        clock.set(START + timedelta(days=20))
        workflow.report_resolution(OFFICER, issue, summary="UNDISCLOSED-RESOLUTION-9c1d installed.")
        workflow.record_evaluation(OFFICER, issue, evaluator="Rep. Zhou", verdict="satisfied")
        workflow.conclude_evaluation(OFFICER, issue)
        state = shown()
        assert state["status"] == "closed"
        assert state["updated_datetime"] == (START + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert (
            state["status_notes"] == "Power company asked to move the cable."
        )  # the resolution was not disclosed
        _, closed = get(http, "requests", "json", status="closed", service_code="difficulty-security")
        assert request_id in {r["service_request_id"] for r in closed}

        clock.set(START + timedelta(days=21))
        workflow.reopen(
            SUPERVISOR, issue, reason="One lamp is out again.", deadline=START + timedelta(days=40)
        )
        assert shown()["status"] == "open"
    finally:
        clock.set(START)


def test_a_registered_item_closes_its_requests_once_the_reporters_are_told(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    workflow = server.services.workflow
    request_id = submit(
        http, key, service_code="suggestion-development", description="A bus to the hospital."
    )
    issue = workflow.open_issue(
        OFFICER, title="Bus line to the district hospital", area="development", level="village",
        horizon="long", opinion_ids=[UUID(request_id)],
    ).id  # fmt: skip
    workflow.register_and_explain(
        OFFICER, issue, explanation="Not solvable at this level now.", revisit_at=START + timedelta(days=200)
    )
    server.settle()
    assert one(http, request_id)["status"] == "open"  # registered, but the reporter has not heard yet
    server.settle(workflow.answer_opinion(OFFICER, UUID(request_id), feedback="Explained by phone.").position)
    assert one(http, request_id)["status"] == "closed"
    server.settle(workflow.revisit(OFFICER, issue).position)
    assert one(http, request_id)["status"] == "open"  # back at the analysis meeting


def test_an_unmerged_request_closes_when_routed_to_be_fixed_or_explained_and_answered(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    workflow = server.services.workflow
    fixed, coordinated = submit(http, key), submit(http, key)
    workflow.route_opinion(SUPERVISOR, UUID(fixed), route="fix_at_once", reason="A loose board.")
    workflow.route_opinion(
        SUPERVISOR, UUID(coordinated), route="coordinate", reason="Needs the parks office."
    )
    server.settle()
    assert one(http, fixed)["status"] == "open"  # routed, but nobody has told the reporter
    workflow.answer_opinion(OFFICER, UUID(fixed), feedback="Fixed this morning.")
    workflow.answer_opinion(OFFICER, UUID(coordinated), feedback="We are on it.")
    server.settle()
    assert one(http, fixed)["status"] == "closed"
    assert one(http, coordinated)["status"] == "open"  # an interim answer does not close it


# -- privacy -----------------------------------------------------------------------------------------

CANARIES = {
    "first_name": "CANARY-FIRST-a1", "last_name": "CANARY-LAST-b2", "email": "canary-c3@mail.example",
    "phone": "CANARY-PHONE-d4", "device_id": "CANARY-DEVICE-e5", "account_id": "CANARY-ACCOUNT-f6",
    "description": "CANARY-DESCRIPTION-g7 金丝雀", "attribute[landmark]": "CANARY-LANDMARK-h8",
}  # fmt: skip
STAFF_CANARIES = ("CANARY-PROGRESS-i9", "CANARY-RESOLUTION-j0", "CANARY-ANSWER-k1", "CANARY-REASON-l2")


def test_nothing_private_reaches_any_get_in_either_format(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    workflow = server.services.workflow
    keyed = submit(http, key, service_code="difficulty-security", **CANARIES)
    anonymous_token = submit(http, None, service_code="difficulty-security", **CANARIES)
    personal = {k: v for k, v in CANARIES.items() if not k.startswith("attribute")}
    dispute_token = submit(
        http, key, service_code="dispute-security", address_string="CANARY-HOME-m3",
        **{**personal, "attribute[history]": "CANARY-HISTORY-n4"},
    )  # fmt: skip
    hidden = [
        tracked(server, token=anonymous_token)["opinion_id"],
        tracked(server, token=dispute_token)["opinion_id"],
    ]
    for opinion_id in hidden:
        workflow.route_opinion(SUPERVISOR, UUID(opinion_id), route="coordinate", reason=STAFF_CANARIES[3])
    issue = workflow.open_issue(
        OFFICER, title="Lights", area="security", level="grid", horizon="immediate", opinion_ids=[UUID(keyed)]
    ).id
    workflow.assign_leader(
        OFFICER, issue, leader="Zhang", department="Works", goals=["g"], measures=["m"],
        deadline=START + timedelta(days=9),
    )  # fmt: skip
    workflow.report_progress(OFFICER, issue, note=STAFF_CANARIES[0])
    workflow.disclose(OFFICER, issue, fields=["title"], where="register")
    workflow.report_resolution(OFFICER, issue, summary=STAFF_CANARIES[1])
    workflow.answer_opinion(OFFICER, UUID(keyed), feedback=STAFF_CANARIES[2])
    server.settle()

    # The canaries did reach the private stores (so their absence below means something).
    opinion = workflow.get_opinion(UUID(keyed))
    assert CANARIES["description"] in opinion.text
    assert CANARIES["attribute[landmark]"] in opinion.text
    contact = workflow.contact(opinion.id)
    assert contact is not None
    assert contact.phone == CANARIES["phone"]

    ids = [keyed, *hidden]
    paths = [
        "discovery", "services", "services/difficulty-security", "requests", f"requests/{keyed}",
        f"tokens/{anonymous_token}", f"tokens/{dispute_token}",
        *(f"requests/{i}" for i in hidden),
    ]  # fmt: skip
    bodies = []
    for fmt in FORMATS:
        for path in paths:
            response = http.get(f"{V2}/{path}.{fmt}")
            assert response.status_code == 200, (path, response.text)
            bodies.append(response.content.decode("utf-8"))
        for status in ("open", "closed"):
            response = http.get(f"{V2}/requests.{fmt}", params={"service_request_id": ",".join(ids)})
            bodies.append(response.content.decode("utf-8"))
            response = http.get(f"{V2}/requests.{fmt}", params={"status": status})
            bodies.append(response.content.decode("utf-8"))
    everything = "\n".join(bodies)
    assert keyed in everything
    assert all(i in everything for i in hidden)
    for canary in [*CANARIES.values(), *STAFF_CANARIES, "CANARY-HOME-m3", "CANARY-HISTORY-n4", "Zhang"]:
        assert canary not in everything  # …but nothing private about them


# -- shapes, scenario ----------------------------------------------------------------------------------


def test_json_answers_match_the_documented_schemas(server: LiveServer, http: httpx.Client, key: str) -> None:
    request_id = submit(http, key)
    token = submit(http, None)
    server.settle()
    checks: list[tuple[str, Any]] = [
        ("discovery.json", DiscoveryOut),
        ("services.json", list[ServiceOut]),
        ("services/disaster-culture.json", ServiceDefinitionOut),
        ("requests.json", list[RequestOut]),
        (f"requests/{request_id}.json", list[RequestOut]),
        (f"tokens/{token}.json", list[TokenOut]),
        ("requests/missing.json", list[ErrorOut]),
    ]
    for path, shape in checks:
        TypeAdapter(shape).validate_python(http.get(f"{V2}/{path}").json())
    answer = http.post(
        f"{V2}/requests.json", data={"api_key": key, "service_code": "opinion-culture", **IN_GRID}
    )
    TypeAdapter(list[SubmittedOut]).validate_python(answer.json())
    body = http.get(f"{V2}/requests/{request_id}.json").json()[0]
    assert isinstance(body["lat"], float)
    assert isinstance(body["service_request_id"], str)


def test_the_openapi_document_lists_the_open311_endpoints_in_both_formats(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    endpoints = (
        "discovery", "services", "services/{service_code}", "requests", "requests/{service_request_id}",
        "tokens/{token}",
    )  # fmt: skip
    for path in endpoints:
        operations = paths[f"{V2}/{path}.{{fmt}}"]
        for operation in operations.values():
            assert {"application/json", "text/xml"} <= set(next(iter(
                r["content"] for code, r in operation["responses"].items() if code.startswith("2")
            )))  # fmt: skip
    assert (
        "application/x-www-form-urlencoded"
        in paths[f"{V2}/requests.{{fmt}}"]["post"]["requestBody"]["content"]
    )


def test_scenario_3_a_broken_bench_reported_from_an_app(server: LiveServer, http: httpx.Client) -> None:
    """A resident's civic app reports a broken bench with a photo link and a location; it arrives
    as an opinion in the feedback tracker of the grid the location falls in, awaiting triage; the
    app shows it open, later closed, with the disclosed progress as status_notes and no names."""
    app_key = server.api_key("civic-app", Role.RECORDER)
    request_id = submit(
        http, app_key, service_code="difficulty-culture", description="The bench in the square is broken.",
        media_url="https://photos.example/bench.jpg", first_name="Lan", last_name="Xu", phone="13900000000",
    )  # fmt: skip
    row = tracked(server, opinion_id=request_id)
    assert (row["unit"], row["route"], row["issue_id"]) == ("grid 4", None, None)  # awaiting triage
    assert one(http, request_id)["status"] == "open"

    workflow = server.services.workflow
    issue = workflow.open_issue(
        OFFICER, title="Repair the bench in the square", area="culture", level="grid", horizon="immediate",
        opinion_ids=[UUID(request_id)],
    ).id  # fmt: skip
    workflow.assign_leader(
        OFFICER, issue, leader="Zhao", department="Parks office", goals=["bench repaired"],
        measures=["replace the slats"], deadline=START + timedelta(days=7),
    )  # fmt: skip
    workflow.report_progress(OFFICER, issue, note="New slats ordered.")
    workflow.disclose(OFFICER, issue, fields=["title", "department", "progress"], where="public register")
    workflow.report_resolution(OFFICER, issue, summary="Slats replaced.")
    workflow.close_fixed_at_once(OFFICER, issue, note="Repaired the same week.")
    server.settle()
    for fmt in FORMATS:
        shown = one(http, request_id, fmt)
        assert shown["status"] == "closed"
        assert shown["status_notes"] == "New slats ordered."
        assert shown["agency_responsible"] == "Parks office"
        assert shown["media_url"] == "https://photos.example/bench.jpg"
        text = http.get(f"{V2}/requests/{request_id}.{fmt}").text
        assert "Lan" not in text
        assert "Xu" not in text
        assert "13900000000" not in text
        assert "Zhao" not in text


# -- the anonymous policy, on servers of their own -------------------------------------------------------


def test_anonymous_requests_are_rate_limited_per_client(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", public_submissions_per_minute=2)
    with serve(settings) as live, live.client() as http:
        form = {"service_code": "opinion-culture", "address_string": "Market"}
        statuses = [http.post(f"{V2}/requests.json", data=form).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
        error_of(429, read(http.post(f"{V2}/requests.xml", data=form), "xml"))
        assert (
            http.post(f"{V2}/requests.json", data={**form, "api_key": live.api_key("app")}).status_code == 201
        )


def test_anonymous_requests_can_be_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", open311_anonymous=False)
    with serve(settings) as live, live.client() as http:
        response = http.post(
            f"{V2}/requests.xml", data={"service_code": "opinion-culture", "address_string": "M"}
        )
        assert response.status_code == 403
        assert "api_key" in error_of(403, read(response, "xml"))


def test_the_open311_view_equals_its_rebuild_from_zero(
    server: LiveServer, http: httpx.Client, key: str
) -> None:
    """Everything the module did (this test last, or alone), rebuilt from the log, gives the same rows."""
    projector, workflow = server.services.projector, server.services.workflow
    merged = submit(http, key)
    submit(http, None, service_code="disaster-culture", **{"attribute[injured]": "no"})
    issue = workflow.open_issue(
        OFFICER, title="Rebuilt", area="culture", level="grid", horizon="near", opinion_ids=[UUID(merged)]
    ).id
    workflow.disclose(OFFICER, issue, fields=["title"], where="register", note="Looked at.")
    server.settle()

    tables = ("open311_requests", "open311_issues")
    live = snapshot(projector.db, tables)
    assert len(live["open311_requests"]) >= 2
    assert live["open311_issues"]
    projector.rebuild(["open311"])
    assert snapshot(projector.db, tables) == live


@pytest.mark.postgres
def test_the_same_story_on_postgresql(tmp_path: Path, postgres_schema: str) -> None:
    """Views in PostgreSQL: the SQL, the types (coordinates keep their digits) and the status filter."""
    settings = Settings(
        data_dir=tmp_path / "var", database_url=POSTGRES_URL, database_schema=postgres_schema,
        open311_grids=[GRID],
    )  # fmt: skip
    with serve(settings) as live, live.client() as http:
        key = live.api_key("pg-app")
        request_id = submit(http, key, lat="30.7512345", long="120.7554321", description="长椅")
        token = submit(http, None, service_code="dispute-culture", address_string="Flat 1")
        assert live.services.workflow.get_opinion(UUID(request_id)).unit == "grid 4"
        workflow = live.services.workflow
        issue = workflow.open_issue(
            OFFICER, title="Bench", area="livelihood", level="grid", horizon="immediate",
            opinion_ids=[UUID(request_id)],
        ).id  # fmt: skip
        workflow.assign_leader(
            OFFICER, issue, leader="Zhao", department="Parks office", goals=["g"], measures=["m"],
            deadline=START + timedelta(days=7),
        )  # fmt: skip
        workflow.report_progress(OFFICER, issue, note="Slats ordered.")
        workflow.disclose(OFFICER, issue, fields=["department", "progress"], where="register")
        workflow.report_resolution(OFFICER, issue, summary="Done.")
        workflow.close_fixed_at_once(OFFICER, issue, note="Repaired.")
        live.settle()
        for fmt in FORMATS:
            shown = one(http, request_id, fmt)
            assert (shown["lat"], shown["long"]) == ("30.7512345", "120.7554321")
            assert (shown["status"], shown["status_notes"]) == ("closed", "Slats ordered.")
            _, closed = get(http, "requests", fmt, status="closed")
            assert [r["service_request_id"] for r in closed] == [request_id]
            assert get(http, f"tokens/{token}", fmt)[1] == [{"service_request_id": None, "token": token}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_oversized_request_answers_413_in_the_spec_error_format(
    http: httpx.Client, server: LiveServer, fmt: str
) -> None:
    # Given a form larger than the server takes
    limit = server.services.settings.max_body_bytes
    form = {"service_code": "opinion-livelihood", "description": "x" * (limit + 1)} | IN_GRID
    # When it is posted
    response = http.post(f"{V2}/requests.{fmt}", data=form)
    # Then it is refused before it is read, in Open311's error shape and the asked format
    assert response.status_code == 413
    assert str(limit) in error_of(413, read(response, fmt))
