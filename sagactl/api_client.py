"""The management API over HTTP, as the CLI uses it: one method per route, JSON in and
out, failures raised as `ApiCallFailed` (with the problem's `code` and `detail`, RFC 9457)
or `CannotConnect`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx


class CannotConnect(Exception):
    """Nothing answered at the API URL."""


class ApiCallFailed(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RunFilter:
    """Which runs a listing keeps: status (one or several, comma-separated), workflow
    name, created at or after a moment."""

    status: str | None = None
    name: str | None = None
    created_after: datetime | None = None


# `rerun` without a new input: the event keeps the one recorded (null would replace it).
KEEP_INPUT: Any = object()


def _segment(value: str) -> str:
    return quote(value, safe="")


class SagaApi:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> SagaApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise CannotConnect(f"cannot connect to {self._http.base_url}: {error}") from None
        if response.is_error:
            raise self._failure(response)
        return response

    @staticmethod
    def _failure(response: httpx.Response) -> ApiCallFailed:
        try:
            problem = response.json()
            return ApiCallFailed(response.status_code, str(problem["code"]), str(problem["detail"]))
        except (ValueError, KeyError, TypeError):
            text = response.text.strip() or response.reason_phrase
            return ApiCallFailed(response.status_code, f"HTTP_{response.status_code}", text)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    # -- runs ----------------------------------------------------------------------------

    def start_run(
        self, name: str, data: Any, instance_id: str | None, start_time: datetime | None
    ) -> Any:
        body: dict[str, Any] = {"input": data}
        if instance_id:
            body["instanceId"] = instance_id
        if start_time:
            body["startTime"] = start_time.isoformat()
        return self._json("POST", f"/v1/workflows/{_segment(name)}/runs", json=body)

    def get_run(self, instance_id: str) -> Any:
        return self._json("GET", f"/v1/runs/{_segment(instance_id)}")

    def list_runs(self, where: RunFilter, page_size: int, token: str | None) -> Any:
        params: dict[str, Any] = {"pageSize": page_size}
        if where.status:
            params["status"] = where.status
        if where.name:
            params["name"] = where.name
        if where.created_after:
            params["createdAfter"] = where.created_after.isoformat()
        if token:
            params["continuationToken"] = token
        return self._json("GET", "/v1/runs", params=params)

    def all_runs(self, where: RunFilter, page_size: int) -> list[Any]:
        runs: list[Any] = []
        token: str | None = None
        while True:
            page = self.list_runs(where, page_size, token)
            runs += page["items"]
            token = page.get("continuationToken")
            if not token:
                return runs

    def trace(self, instance_id: str) -> Any:
        return self._json("GET", f"/v1/runs/{_segment(instance_id)}/trace")

    def history(self, instance_id: str) -> Any:
        return self._json("GET", f"/v1/runs/{_segment(instance_id)}/history")

    def mermaid(self, instance_id: str) -> str:
        return self._call("GET", f"/v1/runs/{_segment(instance_id)}/history/mermaid").text

    def raise_event(self, instance_id: str, event: str, data: Any) -> Any:
        path = f"/v1/runs/{_segment(instance_id)}/events/{_segment(event)}"
        return self._json("POST", path, json={"data": data})

    def suspend(self, instance_id: str, reason: str | None) -> Any:
        return self._json(
            "POST", f"/v1/runs/{_segment(instance_id)}/suspend", json={"reason": reason}
        )

    def resume(self, instance_id: str, reason: str | None) -> Any:
        return self._json(
            "POST", f"/v1/runs/{_segment(instance_id)}/resume", json={"reason": reason}
        )

    def terminate(self, instance_id: str, output: Any) -> Any:
        path = f"/v1/runs/{_segment(instance_id)}/terminate"
        return self._json("POST", path, json={"output": output})

    def rerun(
        self,
        instance_id: str,
        event_id: int | None,
        new_instance_id: str | None,
        new_input: Any = KEEP_INPUT,
    ) -> Any:
        body: dict[str, Any] = {"eventId": event_id}
        if new_instance_id:
            body["newInstanceId"] = new_instance_id
        if new_input is not KEEP_INPUT:
            body["input"] = new_input
        return self._json("POST", f"/v1/runs/{_segment(instance_id)}/rerun", json=body)

    def purge(self, instance_id: str, force: bool = False) -> Any:
        params = {"force": "true"} if force else {}
        return self._json("DELETE", f"/v1/runs/{_segment(instance_id)}", params=params)

    def purge_runs(self, created_before: datetime | None, status: str | None, force: bool) -> Any:
        """Purges every terminal run (or every run in `status`) created before the cutoff;
        every one when `created_before` is None."""
        body: dict[str, Any] = {"status": status, "force": force}
        if created_before is None:
            body["all"] = True
        else:
            body["createdBefore"] = created_before.isoformat()
        return self._json("POST", "/v1/runs/purge", json=body)

    # -- approvals, orders, stock --------------------------------------------------------

    def approvals(self) -> Any:
        return self._json("GET", "/v1/approvals", params={"status": "pending"})

    def approve(self, order_id: str, reason: str | None) -> Any:
        path = f"/v1/approvals/{_segment(order_id)}/approve"
        return self._json("POST", path, json={"reason": reason} if reason else {})

    def reject(self, order_id: str, reason: str) -> Any:
        path = f"/v1/approvals/{_segment(order_id)}/reject"
        return self._json("POST", path, json={"reason": reason})

    def cancel_order(self, order_id: str, reason: str | None) -> Any:
        path = f"/v1/orders/{_segment(order_id)}/cancel"
        return self._json("POST", path, json={"reason": reason} if reason else {})

    # -- audit and dead letters ----------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any], limit: int) -> list[Any]:
        """Every item of a paged listing, newest first, at most `limit`."""
        items: list[Any] = []
        token: str | None = None
        while len(items) < limit:
            query = {**params, "pageSize": min(500, limit - len(items))}
            if token:
                query["continuationToken"] = token
            page = self._json("GET", path, params=query)
            items += page["items"]
            token = page.get("continuationToken")
            if not token:
                break
        return items

    def audit(self, filters: dict[str, Any], limit: int) -> list[Any]:
        params = {key: value for key, value in filters.items() if value is not None}
        return self._pages("/v1/audit", params, limit)

    def dead_letters(self, limit: int) -> list[Any]:
        return self._pages("/v1/dead-letters", {}, limit)

    def dead_letter(self, letter_id: int) -> Any:
        return self._json("GET", f"/v1/dead-letters/{letter_id}")

    def replay_dead_letter(self, letter_id: int) -> Any:
        return self._json("POST", f"/v1/dead-letters/{letter_id}/replay")

    def place_order(self, order: Any) -> Any:
        return self._json("POST", "/v1/orders", json=order)

    def stock(self, skus: list[str] | None) -> Any:
        return self._json("GET", "/v1/inventory/stock", params={"sku": skus or []})
