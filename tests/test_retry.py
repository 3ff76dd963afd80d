"""The cluster client's retries: reads are sent again with backoff within the timeout, writes never."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from kubectl_tke_net.kinds import KINDS
from kubectl_tke_net.model import AccessError, Unavailable
from kubectl_tke_net.sources import cluster
from kubectl_tke_net.sources.cluster import Cluster
from tests.stubserver import Answer, serve

TOKEN = "s3cr3t-stub-token"
OK = Answer(200, {"kind": "PodList", "metadata": {}, "items": [{"metadata": {"name": "p"}}]})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """No real sleeping, no chance: every backoff is the middle of its range, and the clock moves by it."""
    slept: list[float] = []
    now = [1000.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(cluster, "_sleep", sleep)
    monkeypatch.setattr(cluster, "_clock", lambda: now[0])
    monkeypatch.setattr(cluster, "_jitter", lambda: 0.5)
    return slept


def client(stub_url_config: Path, timeout: float | None = 30, log: list[str] | None = None) -> Cluster:
    return Cluster(str(stub_url_config), None, timeout, log=(log.append if log is not None else None))


def status(code: int, retry_after: str | None = None) -> Answer:
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Answer(code, {"kind": "Status", "code": code, "message": f"server says {code}"}, headers)


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
def test_a_read_is_retried_on_these_statuses(tmp_path: Path, sleeps: list[float], code: int) -> None:
    with serve(status(code), status(code), OK) as stub:
        lines: list[str] = []
        pods = client(stub.kubeconfig(tmp_path / "c"), log=lines).list(KINDS["pods"], "app")
    assert [p["metadata"]["name"] for p in pods] == ["p"]
    assert len(stub.seen) == 3
    assert sleeps == [0.1875, 0.375]  # 3/4 of 0.25 s, then of 0.5 s
    assert [line.split(":")[0] for line in lines if line.startswith("retry")] == ["retry 1 of 4", "retry 2 of 4"]
    assert all(TOKEN not in line for line in lines)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(reset=True),
        Answer(200, raw=b'{"kind": "PodList", "items": [{"metadata": {"na'),
        Answer(200, raw=b"\xff\xfe not json"),
        Answer(200, raw=b'["a list, not an object"]'),
    ],
    ids=["reset", "cut-off", "junk", "not-an-object"],
)
def test_a_read_is_retried_on_a_broken_answer(tmp_path: Path, sleeps: list[float], answer: Answer) -> None:
    with serve(answer, OK) as stub:
        pods = client(stub.kubeconfig(tmp_path / "c")).list(KINDS["pods"], "app")
    assert len(pods) == 1 and len(stub.seen) == 2 and len(sleeps) == 1


def test_retry_after_is_honoured_in_seconds_and_as_a_date(tmp_path: Path, sleeps: list[float]) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=8), usegmt=True)
    with serve(status(429, "3"), status(503, later), OK) as stub:
        client(stub.kubeconfig(tmp_path / "c")).list(KINDS["pods"], "app")
    assert sleeps[0] == 3.0 and 6.0 < sleeps[1] <= 8.0


def test_a_retry_after_past_the_timeout_fails_at_once(tmp_path: Path, sleeps: list[float]) -> None:
    with serve(status(429, "60"), OK) as stub, pytest.raises(AccessError) as err:
        client(stub.kubeconfig(tmp_path / "c"), timeout=10).list(KINDS["pods"], "app")
    assert len(stub.seen) == 1 and sleeps == []
    assert str(err.value).startswith(
        "GET /api/v1/namespaces/app/pods: 429 Too Many Requests (server says 429), "
        "1 attempt in 0.0s (the server asked to retry after 60s, past the request "
        "timeout)"
    )


def test_what_keeps_failing_ends_in_one_line_naming_the_request(tmp_path: Path, sleeps: list[float]) -> None:
    with serve(default=status(500)) as stub, pytest.raises(AccessError) as err:
        client(stub.kubeconfig(tmp_path / "c")).list(KINDS["services"], None)
    assert len(stub.seen) == cluster.MAX_ATTEMPTS == 5
    assert sleeps == [0.1875, 0.375, 0.75, 1.5]
    message = str(err.value)
    assert "\n" not in message and err.value.exit_status == 3
    assert message.startswith("GET /api/v1/services: 500 Internal Server Error (server says 500), 5 attempts in 2.8s")


def test_backoff_stays_within_the_request_timeout(tmp_path: Path, sleeps: list[float]) -> None:
    with serve(default=status(503)) as stub, pytest.raises(AccessError):
        client(stub.kubeconfig(tmp_path / "c"), timeout=1).list(KINDS["services"], None)
    assert sum(sleeps) < 1 and len(stub.seen) == len(sleeps) + 1


def test_backoff_has_jitter_and_a_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    for attempt in range(1, 10):
        ceiling = min(cluster.BACKOFF_CAP, cluster.BACKOFF_BASE * 2 ** (attempt - 1))
        monkeypatch.setattr(cluster, "_jitter", lambda: 0.0)
        low = cluster._backoff(attempt)
        monkeypatch.setattr(cluster, "_jitter", lambda: 0.999999)
        high = cluster._backoff(attempt)
        assert low == ceiling / 2 and ceiling / 2 < high < ceiling <= cluster.BACKOFF_CAP


@pytest.mark.parametrize(
    ("value", "code", "seconds"),
    [
        ("5", 429, 5.0),
        ("0", 503, 0.0),
        ("999999", 429, 60.0),
        ("5", 500, None),
        ("soon", 429, None),
        (None, 429, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 503, 0.0),
    ],
)
def test_retry_after_parsing(value: str | None, code: int, seconds: float | None) -> None:
    assert cluster._retry_after(value, code) == seconds


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_other_statuses_are_not_retried(tmp_path: Path, sleeps: list[float], code: int) -> None:
    with serve(status(code), OK) as stub:
        c = client(stub.kubeconfig(tmp_path / "c"))
        try:
            c.list(KINDS["pods"], "app")
        except Exception as exc:  # AccessError or Unavailable: either way, no second request
            assert TOKEN not in str(exc)
    assert len(stub.seen) == 1 and sleeps == []


@pytest.mark.parametrize("answer", [status(503), status(429, "0"), status(500)])
def test_a_write_is_sent_once_whatever_the_status(tmp_path: Path, sleeps: list[float], answer: Answer) -> None:
    with serve(answer, OK) as stub:
        code, _ = client(stub.kubeconfig(tmp_path / "c")).patch(
            "/api/v1/namespaces/app/services/s", {"metadata": {"resourceVersion": "1"}}
        )
    assert code == answer.status and len(stub.seen) == 1 and sleeps == []


@pytest.mark.parametrize("answer", [Answer(reset=True), Answer(200, raw=b'{"kind": "Serv')], ids=["reset", "cut"])
def test_a_write_that_breaks_off_may_or_may_not_have_been_applied(
    tmp_path: Path, sleeps: list[float], answer: Answer
) -> None:
    with serve(answer, OK) as stub, pytest.raises(AccessError) as err:
        client(stub.kubeconfig(tmp_path / "c")).patch("/api/v1/namespaces/app/services/s", {"metadata": {}})
    assert len(stub.seen) == 1 and sleeps == []
    assert str(err.value).startswith("PATCH /api/v1/namespaces/app/services/s: ")
    assert "may or may not have been applied" in str(err.value)


def page(names: list[str], token: str = "") -> Answer:
    return Answer(
        200,
        {"kind": "ServiceList", "metadata": {"continue": token}, "items": [{"metadata": {"name": n}} for n in names]},
    )


GONE = status(410)


def test_an_expired_continue_token_starts_the_list_again(tmp_path: Path, sleeps: list[float]) -> None:
    with serve(page(["a", "b"], "t1"), GONE, page(["a", "b"], "t2"), GONE, page(["a", "b"], "t3"), page(["c"])) as stub:
        lines: list[str] = []
        items = client(stub.kubeconfig(tmp_path / "c"), log=lines).list(KINDS["services"], None)
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"]
    assert [("continue=" in path) for _, path, _ in stub.seen] == [False, True, False, True, False, True]
    assert sum("listing again from the first page" in line for line in lines) == 2


def test_a_continue_token_that_keeps_expiring_fails(tmp_path: Path, sleeps: list[float]) -> None:
    with (
        serve(page(["a"], "t"), GONE, page(["a"], "t"), GONE, page(["a"], "t"), GONE) as stub,
        pytest.raises(AccessError) as err,
    ):
        client(stub.kubeconfig(tmp_path / "c")).list(KINDS["services"], "app")
    assert len(stub.seen) == 6
    assert str(err.value).startswith(
        "GET /api/v1/namespaces/app/services: the continue token expired (410 Gone) 3 times"
    )


def test_a_410_on_the_first_page_is_not_a_restart(tmp_path: Path, sleeps: list[float]) -> None:
    with serve(GONE) as stub, pytest.raises(AccessError) as err:
        client(stub.kubeconfig(tmp_path / "c")).list(KINDS["services"], "app")
    assert len(stub.seen) == 1 and "410" in str(err.value)


def test_the_next_page_is_asked_for_before_this_one_has_come_whole(tmp_path: Path, sleeps: list[float]) -> None:
    """The first page's items are held back after its head until the second page is asked for: a client that
    waited for the whole body first would wait out stubserver.HOLD, and Stub.held would say False."""
    asked = threading.Event()

    def route(method: str, path: str) -> None:
        if "continue=t1" in path:
            asked.set()

    filler = [f"s{k:05d}-{'x' * 60}" for k in range(400)]  # a first page well past cluster.HEAD_BYTES
    first = page(filler, "t1")
    size = len(json.dumps(first.body).encode())
    assert size > 2 * cluster.HEAD_BYTES
    first = dataclasses.replace(first, split=cluster.HEAD_BYTES + 100, hold=asked)
    with serve(first, page(["z"]), route=route) as stub:
        items = client(stub.kubeconfig(tmp_path / "c")).list(KINDS["services"], None)
    assert stub.held == [True]
    assert [i["metadata"]["name"] for i in items] == [*filler, "z"]
    assert [path.partition("continue=")[2] for _, path, _ in stub.seen] == ["", "t1"]


def test_a_page_cut_off_after_its_head_is_sent_again_and_its_next_page_asked_for_once(
    tmp_path: Path, sleeps: list[float]
) -> None:
    """The head of the first page asks for the second; its body then breaks off and the first page is sent
    again: its head knows the second page is already asked for, and every item comes once, in order."""
    filler = [f"s{k:05d}-{'x' * 60}" for k in range(400)]
    first = page(filler, "t1")
    sent: list[str] = []

    def route(method: str, path: str) -> Answer:
        sent.append(path.partition("continue=")[2])
        if "continue=t1" in path:
            return page(["z"])
        return first if sent.count("") > 1 else dataclasses.replace(first, split=cluster.HEAD_BYTES + 100, cut=True)

    lines: list[str] = []
    with serve(route=route) as stub:
        items = client(stub.kubeconfig(tmp_path / "c"), log=lines).list(KINDS["services"], None)
    assert [i["metadata"]["name"] for i in items] == [*filler, "z"]
    assert sorted(sent) == ["", "", "t1"]
    assert (
        [line for line in lines if line.startswith("retry")]
        == [line for line in lines if line.startswith("retry 1 of 4") and "the connection broke off" in line]
        != []
    )


def test_an_error_whose_body_breaks_off_is_sent_again(tmp_path: Path, sleeps: list[float]) -> None:
    """An answer that is not a success is read whole (no head); when its body breaks off it is sent again, as
    urllib3's retries send again a body that broke off, and the answer that comes whole is the one judged."""
    broken = dataclasses.replace(status(404), split=10, cut=True)
    with serve(broken, status(404)) as stub, pytest.raises(Unavailable) as caught:
        client(stub.kubeconfig(tmp_path / "c")).list(KINDS["pods"], "app")
    assert len(stub.seen) == 2
    assert not caught.value.served


def test_the_next_page_is_asked_for_from_the_head_of_this_one(tmp_path: Path, sleeps: list[float]) -> None:
    """The continue token is read from the List's metadata before the items are decoded, and the next page asked
    for on its own thread: still one request after the other, every item once and in order, as kinds.clean
    keeps it."""
    big = [f"s{k}" for k in range(3)]
    answers = [page(big, "t1"), page(["x", "y"], "t2"), page(["z"])]
    with serve(*answers) as stub:
        items = client(stub.kubeconfig(tmp_path / "c")).list(KINDS["services"], None)
    assert [i["metadata"]["name"] for i in items] == [*big, "x", "y", "z"]
    assert [path.partition("continue=")[2] for _, path, _ in stub.seen] == ["", "t1", "t2"]
    assert all(i["kind"] == "Service" and i["apiVersion"] == "v1" for i in items)
