"""The console's own rules, on the real API over a real sidecar (the stand-in workflows of
tests/api): who may look (the API's token check, from a cookie), what a change needs, the
runs page's order, filters and pages, and the browser libraries it serves."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import quote

import dapr.ext.workflow as wf
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from foundation.tokens import LocalIssuer
from services.contracts.names import WorkflowName
from services.orchestrator.console.session import COOKIE
from tests.api.harness import finished, order

CONFIG = {"approvalThresholdCents": 100_000}


@pytest.fixture
def console(make_app: Callable[..., FastAPI], runtime: wf.WorkflowRuntime) -> Iterator[TestClient]:
    """The API app with no token of its own: the console's cookie is the test's to set."""
    with TestClient(make_app(), follow_redirects=False) as http:
        yield http


def test_a_page_without_a_token_goes_to_the_login_page_and_back(console: TestClient) -> None:
    answer = console.get("/ui/runs")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=/ui/runs"


def test_login_refuses_a_token_the_api_refuses_with_the_apis_reason(
    console: TestClient, issuer: LocalIssuer
) -> None:
    expired = issuer.mint("old", ["viewer"], ttl_seconds=-3600)
    api_answer = console.get("/v1/runs", headers={"Authorization": f"Bearer {expired}"})
    assert api_answer.status_code == 401

    page = console.post("/ui/login", data={"token": expired, "next": "/ui/runs"})
    assert page.status_code == 401
    assert api_answer.json()["detail"] in page.text
    assert COOKIE not in page.cookies


def test_login_keeps_the_token_in_an_http_only_strict_cookie(
    console: TestClient, tester_token: str
) -> None:
    answer = console.post("/ui/login", data={"token": tester_token, "next": "/ui/approvals"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/approvals"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={tester_token};")
    assert {"HttpOnly", "Path=/ui", "SameSite=strict"} <= {
        part.strip() for part in cookie.split(";")
    }
    # Only a console page is a place to go back to: never an open redirect.
    elsewhere = console.post("/ui/login", data={"token": tester_token, "next": "//evil.test/x"})
    assert elsewhere.headers["location"] == "/ui/runs"


def test_a_change_needs_the_consoles_own_page(console: TestClient, tester_token: str) -> None:
    console.cookies.set(COOKIE, tester_token)
    path = "/ui/runs/order-nobody/actions/suspend"

    assert console.post(path).status_code == 403  # a plain form post from anywhere
    forged = console.post(path, headers={"HX-Request": "true", "Origin": "http://evil.test"})
    assert forged.status_code == 403
    own = console.post(path, headers={"HX-Request": "true", "Origin": "http://testserver"})
    assert own.status_code == 200
    # ... and then the API decides: there is no such run.
    assert "suspend refused (404 WORKFLOW_NOT_FOUND)" in own.text


def test_the_runs_page_is_newest_first_filtered_searched_and_paged(
    console: TestClient, client: wf.DaprWorkflowClient, tester_token: str
) -> None:
    ids = [
        client.schedule_new_workflow(
            WorkflowName.ORDER_SAGA.value,
            input={"order": order(f"p{i:02d}", f"cust-{i % 3}"), "config": CONFIG},
            instance_id=f"order-p{i:02d}",
        )
        for i in range(55)
    ]
    for instance_id in ids:
        finished(client, instance_id)
    console.cookies.set(COOKIE, tester_token)

    def shown(query: str) -> list[str]:
        page = console.get(f"/ui/runs/table?{query}")
        assert page.status_code == 200
        return re.findall(r'data-instance="([^"]+)"', page.text)

    first, second = shown("page=1"), shown("page=2")
    assert len(first) == 50
    assert len(second) == 5
    assert first + second == sorted(ids, reverse=True)  # created in this order: newest first
    assert shown("q=CUST-1") == [f"order-p{i:02d}" for i in range(54, -1, -1) if i % 3 == 1]
    assert shown("status=COMPLETED&q=p07") == ["order-p07"]
    assert shown("status=RUNNING") == []
    assert shown("workflow=approval") == []
    assert len(shown("from=2000-01-01T00:00&page=2")) == 5
    assert shown("to=2000-01-01T00:00") == []


def test_the_browser_libraries_come_from_the_lock_files_packages(console: TestClient) -> None:
    htmx = console.get("/ui/vendor/htmx.min.js")
    assert htmx.status_code == 200
    assert htmx.headers["content-type"].startswith("text/javascript")
    assert "htmx" in htmx.text[:2000]
    assert console.get("/ui/vendor/sse.min.js").status_code == 200
    assert console.get("/ui/vendor/mermaid.min.js").status_code == 200
    assert console.get("/ui/vendor/package.json").status_code == 404


def test_a_runs_live_part_is_redrawn_only_when_the_run_changed(
    console: TestClient, client: wf.DaprWorkflowClient, tester_token: str
) -> None:
    instance_id = client.schedule_new_workflow(
        WorkflowName.ORDER_SAGA.value,
        input={"order": order("live-1", "cust-1"), "config": CONFIG},
        instance_id="order-live-1",
    )
    finished(client, instance_id)
    console.cookies.set(COOKIE, tester_token)
    bearer = {"Authorization": f"Bearer {tester_token}"}
    updated = console.get(f"/v1/runs/{instance_id}", headers=bearer).json()["lastUpdatedAt"]

    same = console.get(f"/ui/runs/{instance_id}/live", params={"updated": updated})
    assert same.status_code == 204
    older = console.get(f"/ui/runs/{instance_id}/live", params={"updated": "2000-01-01T00:00:00Z"})
    assert older.status_code == 200
    assert 'id="run-status">COMPLETED<' in older.text
    assert f"updated={quote(updated, safe='')}" in older.text
