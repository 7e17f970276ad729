"""Where a card number could have landed on a running platform, searched for every card
a run used (issue 14's acceptance: "no SQLite file, log line or API answer holds a card
number used in the run").

What is searched, whatever the runtime:

- every file under the platform's folder: the embedded sidecars' SQLite files (`*.sqlite`,
  with their `-wal` and `-shm`, read while the platform runs, so the write-ahead log is
  there), every process's log (apps, sidecars or daprds, Redis, placement, scheduler),
  Redis's append-only files and the scheduler's etcd data under daprd, the observer's
  records;
- under daprd, every value Redis holds (`testkit.redis_dump`: each key read by its type),
  since its files may keep values compressed;
- the management API's answers about the runs: every page of `GET /v1/runs`, and of each
  run `GET /v1/runs/{id}` and its history, plus the approvals.

A card number is looked for as its digits and as base64 at each of the three alignments
(a CloudEvent's binary data, a protobuf payload), so an encoded copy is found too. A
finding names the place and the card's last four digits, never the card.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from services.common.cards import masked
from testkit.daprd import DaprdRuntime
from testkit.platform import Platform
from testkit.redis_dump import redis_values


@dataclass
class CardScan:
    """What was searched, by kind (`sqlite`, `log`, `file`, `redis`, `api`), and where a
    card was found."""

    searched: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)


def encodings(card: str) -> Iterator[bytes]:
    """The card's digits, and the base64 forms any longer data holding it contains."""
    digits = card.encode()
    yield digits
    for start in range(3):
        whole = digits[start : start + 3 * ((len(digits) - start) // 3)]
        yield base64.b64encode(whole)
        yield base64.urlsafe_b64encode(whole)


class CardFinder:
    """Finds any of `cards`, in any of their encodings, in bytes."""

    def __init__(self, cards: Iterable[str]) -> None:
        self.card_of = {form: card for card in set(cards) for form in encodings(card)}
        self._pattern = re.compile(b"|".join(re.escape(form) for form in self.card_of))

    def cards_in(self, data: bytes) -> set[str]:
        return {self.card_of[match[0]] for match in self._pattern.finditer(data)}


def _kind(path: Path) -> str:
    if ".sqlite" in path.name:
        return "sqlite"
    return "log" if path.suffix == ".log" else "file"


def scan_files(root: Path, finder: CardFinder, scan: CardScan) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a WAL checkpointed away meanwhile
            continue
        scan.searched[_kind(path)] += 1
        for card in finder.cards_in(data):
            scan.findings.append(f"{path.relative_to(root)}: card {masked(card)}")


def scan_redis(port: int, finder: CardFinder, scan: CardScan) -> None:
    for key, value in redis_values(port):
        scan.searched["redis"] += 1
        for card in finder.cards_in(key + b"\n" + value):
            scan.findings.append(f"redis key {key.decode(errors='replace')}: card {masked(card)}")


def _api_answers(platform: Platform) -> Iterator[tuple[str, bytes]]:
    """(path, body) of each answer about the runs: the pages, each run and its history."""
    params = {"pageSize": "500"}
    instance_ids: list[str] = []
    while True:
        page = platform.api.get("/v1/runs", params=params)
        page.raise_for_status()
        yield "/v1/runs", page.content
        document = page.json()
        instance_ids += [run["instanceId"] for run in document["items"]]
        if not document.get("continuationToken"):
            break
        params["continuationToken"] = document["continuationToken"]
    for path in ["/v1/approvals"] + [
        f"/v1/runs/{i}{tail}" for i in instance_ids for tail in ("", "/history")
    ]:
        answer = platform.api.get(path)
        answer.raise_for_status()
        yield path, answer.content


def scan_api(platform: Platform, finder: CardFinder, scan: CardScan) -> None:
    for path, body in _api_answers(platform):
        scan.searched["api"] += 1
        for card in finder.cards_in(body):
            scan.findings.append(f"GET {path}: card {masked(card)}")


def scan_platform(platform: Platform, cards: Iterable[str], *, api: bool = True) -> CardScan:
    """Every place of the module docstring, searched for `cards`."""
    finder = CardFinder(cards)
    scan = CardScan()
    scan_files(platform.root, finder, scan)
    runtime = platform.runtime
    if isinstance(runtime, DaprdRuntime) and runtime.services is not None:
        scan_redis(runtime.services.redis_port, finder, scan)
    if api:
        scan_api(platform, finder, scan)
    return scan
