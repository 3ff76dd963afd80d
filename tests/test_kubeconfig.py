"""Kubeconfig as kubectl reads it: merged lists, exec plugins, credentials; and a line saying what to fix."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import stat
import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLI
from tests.stubserver import Answer, Stub, serve

TOKEN = "s3cr3t-token-value-0123456789"
EMPTY = Answer(200, {"kind": "List", "metadata": {}, "items": []})


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def config(
    server: str | Stub = "https://127.0.0.1:1",
    *,
    cluster: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    current: str | None = "dev",
) -> dict[str, Any]:
    """A kubeconfig with one context "dev"; a Stub as the server also makes the cluster trust its certificate."""
    if cluster is None:
        cluster = server.cluster() if isinstance(server, Stub) else {"server": server}
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user if user is not None else {"token": TOKEN}}],
        "contexts": [{"name": "dev", "context": context if context is not None else {"cluster": "c", "user": "u"}}],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


def bearer(headers: dict[str, str]) -> str | None:
    return headers.get("Authorization")


def exec_plugin(tmp_path: Path, output: str, status: int = 0) -> Path:
    script = tmp_path / "credential-plugin"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({output!r})\nsys.exit({status})\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def exec_user(command: Path) -> dict[str, Any]:
    return {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(command), "interactiveMode": "Never"}
    }


def credential(token: str) -> str:
    return json.dumps(
        {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": token}}
    )


# --- what works -------------------------------------------------------------------------------------


def test_several_files_in_kubeconfig_are_merged_first_one_wins(
    cli: CLI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve(default=EMPTY) as stub:
        contexts = write(
            tmp_path / "contexts",
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "dev",
                "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
            },
        )
        clusters = write(
            tmp_path / "clusters",
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "other",
                "clusters": [{"name": "c", "cluster": stub.cluster()}],
                "contexts": [{"name": "dev", "context": {"cluster": "x"}}],
            },
        )
        users = write(
            tmp_path / "users",
            {"apiVersion": "v1", "kind": "Config", "users": [{"name": "u", "user": {"token": "first"}}]},
        )
        later = write(
            tmp_path / "later",
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "second"}}],
            },
        )
        missing = tmp_path / "does-not-exist"  # kubectl skips a missing file in the list
        monkeypatch.setenv("KUBECONFIG", os.pathsep.join(map(str, (contexts, missing, clusters, users, later))))
        run = cli("svc", "-o", "json")
    assert run.status == 0, run.err
    assert run.json()["source"] == {"context": "dev", "cluster": "c", "snapshot": None}
    assert {bearer(h) for _, _, h in stub.seen} == {"Bearer first"}
    assert any(path.startswith("/api/v1/namespaces/shop/services") for _, path, _ in stub.seen)


def test_an_exec_credential_plugin_gives_the_token(cli: CLI, tmp_path: Path) -> None:
    script = exec_plugin(tmp_path, credential("from-the-plugin"))
    with serve(default=EMPTY) as stub:
        path = write(tmp_path / "config", config(stub, user=exec_user(script)))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0, run.err
    assert {bearer(h) for _, _, h in stub.seen} == {"Bearer from-the-plugin"}


def test_a_context_without_user_is_anonymous(cli: CLI, tmp_path: Path) -> None:
    with serve(default=EMPTY) as stub:
        path = write(tmp_path / "config", config(stub, context={"cluster": "c"}))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0 and {bearer(h) for _, _, h in stub.seen} == {None}


def test_token_file_is_read(cli: CLI, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    with serve(default=EMPTY) as stub:
        path = write(tmp_path / "config", config(stub, user={"tokenFile": str(tmp_path / "token")}))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0 and {bearer(h) for _, _, h in stub.seen} == {"Bearer from-a-file"}


def test_an_unreadable_token_file_gives_way_to_the_inline_token(cli: CLI, tmp_path: Path) -> None:
    """As client-go: with both, the tokenFile wins while it can be read, and the inline token stands in when not."""
    token_file = tmp_path / "token"
    with serve(default=EMPTY) as stub:
        path = write(tmp_path / "config", config(stub, user={"token": "inline", "tokenFile": str(token_file)}))
        first = cli("svc", "--kubeconfig", str(path), "-o", "json")
        sent = len(stub.seen)
        token_file.write_text("from-the-file\n")
        second = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert (first.status, second.status) == (0, 0), first.err + second.err
    assert {bearer(h) for _, _, h in stub.seen[:sent]} == {"Bearer inline"}
    assert {bearer(h) for _, _, h in stub.seen[sent:]} == {"Bearer from-the-file"}


HTTP_USERS: dict[str, dict[str, Any]] = {
    "token": {"token": TOKEN},
    "basic auth": {"username": "admin", "password": TOKEN},
    "missing token file": {"tokenFile": "/nope/token"},
    "missing client certificate": {"client-certificate": "/nope/c.crt", "client-key": "/nope/c.key"},
    "missing exec plugin": {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/nope/plugin", "interactiveMode": "Never"}
    },
}


@pytest.mark.parametrize("user", list(HTTP_USERS))
def test_no_credentials_are_sent_to_an_http_server(cli: CLI, tmp_path: Path, user: str) -> None:
    """kubectl reads a user's credentials only when the server is https: over http:// it sends none (so it
    reads no tokenFile, client certificate or exec plugin either), and the server answers as it does to anyone."""
    with serve(default=EMPTY, tls=False) as stub:
        path = write(tmp_path / "config", config(stub, user=HTTP_USERS[user]))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json", "-v")
    assert run.status == 0, run.err
    assert stub.url.startswith("http://") and stub.seen
    assert {bearer(h) for _, _, h in stub.seen} == {None}
    unauthorized = Answer(401, {"kind": "Status", "code": 401, "message": "Unauthorized"})
    with serve(default=unauthorized, tls=False) as stub:
        path = write(tmp_path / "config", config(stub, user=HTTP_USERS[user]))
        run = cli("svc", "--kubeconfig", str(path), "-v")
    assert run.status == 3 and run.err.count("error: ") == 1
    assert run.err.splitlines()[-1].startswith(f"error: authentication to {stub.url} failed (401 Unauthorized)")
    assert {bearer(h) for _, _, h in stub.seen} == {None} and TOKEN not in run.err


@contextlib.contextmanager
def socks5_proxy() -> Iterator[tuple[int, list[tuple[str, int]]]]:
    """A SOCKS5 proxy on 127.0.0.1 (no authentication, CONNECT only); yields its port and the (host, port) asked."""
    listener = socket.create_server(("127.0.0.1", 0))
    asked: list[tuple[str, int]] = []

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def serve_one(conn: socket.socket) -> None:
        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise OSError("the client went away")
                data += chunk
            return data

        with conn, contextlib.suppress(OSError):
            _version, methods = read(2)
            read(methods)
            conn.sendall(b"\x05\x00")  # no authentication
            _version, command, _reserved, kind = read(4)
            host = socket.inet_ntoa(read(4)) if kind == 1 else read(read(1)[0]).decode() if kind == 3 else ""
            (port,) = struct.unpack("!H", read(2))
            asked.append((host, port))
            if command != 1 or not host:
                conn.sendall(b"\x05\x07\x00\x01" + bytes(6))
                return
            with socket.create_connection((host, port)) as upstream:
                conn.sendall(b"\x05\x00\x00\x01" + bytes(6))
                back = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
                back.start()
                pipe(conn, upstream)
                back.join()

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1], asked
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_a_socks5_proxy_url_is_used(cli: CLI, tmp_path: Path, scheme: str) -> None:
    """The proxy resolves the server's name, as with kubectl (Go's SOCKS5 dialer sends the name)."""
    with serve(default=EMPTY) as stub, socks5_proxy() as (proxy_port, asked):
        port = int(stub.url.rsplit(":", 1)[1])
        cluster = {
            **stub.cluster(),
            "server": f"https://localhost:{port}",
            "proxy-url": f"{scheme}://127.0.0.1:{proxy_port}",
        }
        path = write(tmp_path / "config", config(cluster=cluster))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0, run.err
    assert asked and set(asked) == {("localhost", port)}
    assert stub.seen and {bearer(h) for _, _, h in stub.seen} == {f"Bearer {TOKEN}"}


CONTROL_CHARACTERS = {
    "inline token": ({"token": f"{TOKEN}\nSECRETB"}, "its token contains a line break"),
    "token with a NUL": ({"token": f"{TOKEN}\x00SECRETB"}, "its token contains a line break"),
    "token file of two lines": ({"tokenFile": "two-lines"}, "its token contains a line break"),
    "exec plugin token": ({"exec-token": f"{TOKEN}\rSECRETB"}, "its token contains a line break"),
    "password": ({"username": "admin", "password": f"{TOKEN}\nSECRETB"}, "its username or password contains"),
}


@pytest.mark.parametrize("case", list(CONTROL_CHARACTERS))
def test_a_credential_that_cannot_be_sent_is_named_not_shown(cli: CLI, tmp_path: Path, case: str) -> None:
    user, words = CONTROL_CHARACTERS[case]
    (tmp_path / "two-lines").write_text(f"{TOKEN}\nSECRETB\n")
    if "exec-token" in user:
        user = exec_user(exec_plugin(tmp_path, credential(user["exec-token"])))
    with serve(default=EMPTY) as stub:
        path = write(tmp_path / "config", config(stub, user=user))
        run = cli("svc", "--kubeconfig", str(path), "-v")
    assert run.status == 3 and run.out == "" and stub.seen == []
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert run.err.startswith(f'error: user "u": {words}'), run.err
    assert "SECRETB" not in run.err and TOKEN[:12] not in run.err


# --- what fails, with exit 3 and one line that says what to fix ----------------------------------------


def _cases(tmp_path: Path) -> dict[str, tuple[dict[str, Any], str]]:
    failing = exec_plugin(tmp_path, "", status=1)
    junk = tmp_path / "junk-plugin"
    junk.write_text(f"#!{sys.executable}\nprint('not json')\n")
    junk.chmod(0o755)
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n").decode()
    return {
        "no current context": (config(current=None), "error: no current context in {path}; pass --context NAME"),
        "unknown current context": (config(current="gone"), 'error: context "gone" not found in {path}'),
        "missing cluster": (
            config(context={"cluster": "gone", "user": "u"}),
            'error: context "dev" names cluster "gone", which is not in {path}; add the cluster',
        ),
        "missing user": (
            config(context={"cluster": "c", "user": "gone"}),
            'error: context "dev" names user "gone", which is not in {path}; add the user',
        ),
        "context without cluster": (config(context={"user": "u"}), 'error: context "dev" in {path} names no cluster'),
        "cluster without server": (
            config(cluster={"insecure-skip-tls-verify": True}),
            'error: cluster "c" in {path} has no server; set it with kubectl config set-cluster c --server=',
        ),
        "server not a URL": (
            config(cluster={"server": "127.0.0.1:6443"}),
            'error: cluster "c" in {path} has server "127.0.0.1:6443", which is not an https:// URL',
        ),
        "CA file missing": (
            config(cluster={"server": "https://127.0.0.1:1", "certificate-authority": "/nope/ca.crt"}),
            "error: invalid kubeconfig {path}: File does not exist: /nope/ca.crt",
        ),
        "CA data not base64": (
            config(cluster={"server": "https://127.0.0.1:1", "certificate-authority-data": "%%"}),
            'error: cluster "c" in {path}: certificate-authority-data is not valid base64',
        ),
        "CA data not a certificate": (
            config(cluster={"server": "https://127.0.0.1:1", "certificate-authority-data": pem}),
            'error: cluster "c": its certificate-authority is not a usable PEM certificate',
        ),
        "client key data not base64": (
            config(user={"client-certificate-data": pem, "client-key-data": "%%" + TOKEN}),
            'error: user "u" in {path}: client-key-data is not valid base64',
        ),
        "client certificate file missing": (
            config(user={"client-certificate": "/nope/c.crt", "client-key": "/nope/c.key"}),
            "error: invalid kubeconfig {path}: File does not exist: /nope/c.crt",
        ),
        "client certificate not usable": (
            config(user={"client-certificate-data": pem, "client-key-data": pem}),
            'error: user "u": the client certificate and key cannot be used together',
        ),
        "token file missing": (
            config(user={"tokenFile": "/nope/token"}),
            "error: cannot read kubeconfig {path}: [Errno 2] No such file or directory",
        ),
        "insecure with a CA file": (
            config(
                cluster={
                    "server": "https://127.0.0.1:1",
                    "insecure-skip-tls-verify": True,
                    "certificate-authority": "/nope/ca.crt",
                }
            ),
            'error: cluster "c" in {path} sets insecure-skip-tls-verify together with a '
            "certificate authority, which kubectl refuses; remove one of them",
        ),
        "insecure with CA data": (
            config(
                cluster={
                    "server": "https://127.0.0.1:1",
                    "insecure-skip-tls-verify": "true",
                    "certificate-authority-data": pem,
                }
            ),
            'error: cluster "c" in {path} sets insecure-skip-tls-verify together with a certificate authority',
        ),
        "token and basic auth": (
            config(user={"token": TOKEN, "username": "admin", "password": "pw"}),
            'error: user "u" in {path} has both a bearer token and a username/password, which kubectl refuses',
        ),
        "token file and basic auth": (
            config(user={"tokenFile": "/nope/token", "username": "admin", "password": "p"}),
            'error: user "u" in {path} has both a bearer token and a username/password',
        ),
        "socks4 proxy": (
            config(cluster={"server": "https://127.0.0.1:1", "proxy-url": "socks4://127.0.0.1:1080"}),
            'error: cluster "c" in {path}: its proxy-url has the scheme "socks4", which kubectl does not '
            "support; use http, https or socks5",
        ),
        "proxy without a scheme": (
            config(cluster={"server": "https://127.0.0.1:1", "proxy-url": f"proxy.example:{TOKEN}@x"}),
            'error: cluster "c" in {path}: its proxy-url has the scheme "proxy.example"',
        ),
        "exec plugin missing": (
            config(user=exec_user(tmp_path / "no-such-plugin")),
            f'error: user "u": the exec credential plugin "{tmp_path / "no-such-plugin"}" failed',
        ),
        "exec plugin fails": (
            config(user=exec_user(failing)),
            f'error: user "u": the exec credential plugin "{failing}" failed: exec: process returned 1',
        ),
        "exec plugin prints junk": (
            config(user=exec_user(junk)),
            f'error: user "u": the exec credential plugin "{junk}" failed: exec: failed to decode process output',
        ),
        "not a mapping": ({"oops": 1}, "error: no current context in {path}"),
    }


CASES = list(_cases(Path("/tmp")))


@pytest.mark.parametrize("case", CASES)
def test_unusable_kubeconfigs_exit_3_with_what_to_fix(cli: CLI, tmp_path: Path, case: str) -> None:
    doc, expected = _cases(tmp_path)[case]
    path = write(tmp_path / "config", doc)
    run = cli("svc", "--kubeconfig", str(path), "--request-timeout", "1s")
    assert run.status == 3 and run.out == ""
    assert run.err.count("\n") == 1, run.err
    assert run.err.startswith(expected.format(path=path)), run.err
    assert TOKEN not in run.err


def test_a_kubeconfig_that_is_not_yaml(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(f"users:\n- name: u\n  user: {{token: {TOKEN}\n  oops: [\n")
    run = cli("svc", "--kubeconfig", str(path))
    assert run.status == 3 and run.err.startswith(f"error: cannot read kubeconfig {path}: ")
    assert run.err.count("\n") == 1 and TOKEN not in run.err


def test_a_missing_kubeconfig_file(cli: CLI, tmp_path: Path) -> None:
    run = cli("svc", "--kubeconfig", str(tmp_path / "nope"))
    assert (run.status, run.err) == (3, f"error: kubeconfig {tmp_path / 'nope'} does not exist\n")


# --- a token in the kubeconfig never reaches the output -------------------------------------------------

SERVER_ANSWERS = {
    "401": Answer(401, {"kind": "Status", "code": 401, "message": "Unauthorized"}),
    "403": Answer(403, {"kind": "Status", "code": 403, "message": 'services is forbidden: User "u" cannot list'}),
    "500": Answer(500, {"kind": "Status", "code": 500, "message": "etcdserver: request timed out"}),
    "reset": Answer(reset=True),
    "junk": Answer(200, raw=b"<html>proxy error</html>"),
    "ok": EMPTY,
}


@pytest.mark.parametrize("answer", list(SERVER_ANSWERS))
@pytest.mark.parametrize(
    "command",
    [
        ("svc", "-A"),
        ("ingress", "-A"),
        ("loopback",),
        ("dump", "-A"),
        ("fix", "prevent-loopback", "-A"),
        ("fix", "kube-proxy", "--dry-run=server"),
    ],
)
def test_the_token_never_leaks_through_output_or_errors(
    cli: CLI,
    tmp_path: Path,
    answer: str,
    command: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubectl_tke_net.sources import cluster

    monkeypatch.setattr(cluster, "_sleep", lambda _s: None)
    with serve(default=SERVER_ANSWERS[answer]) as stub:
        path = write(tmp_path / "config", config(stub))
        run = cli(*command, "--kubeconfig", str(path), "-v", "--request-timeout", "2s")
    assert stub.seen and all(bearer(h) == f"Bearer {TOKEN}" for _, _, h in stub.seen)
    assert run.status in (0, 1, 3), run.err
    assert "Traceback" not in run.err
    for text in (run.out, run.err):
        assert TOKEN not in text and TOKEN[:12] not in text
        assert base64.b64encode(TOKEN.encode()).decode()[:16] not in text


def test_the_token_is_not_in_the_cluster_object_repr(tmp_path: Path) -> None:
    from kubectl_tke_net.sources.cluster import Cluster

    path = write(tmp_path / "config", config("http://127.0.0.1:1"))
    c = Cluster(str(path), None, 1)
    assert TOKEN not in repr(c) and TOKEN not in str(c.target) and TOKEN not in repr(c.headers)


# --- a plain kubeconfig is read without the kubernetes library (start-up cost) -------------------------


def _imports_kubernetes(path: Path) -> tuple[int, bool]:
    import subprocess

    code = (
        "import sys\nfrom kubectl_tke_net.cli import main\ntry:\n    status = main(sys.argv[1:])\n"
        "finally:\n    print('kubernetes' in sys.modules, file=sys.stderr)\nsys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "svc", "--kubeconfig", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    return done.returncode, done.stderr.strip().endswith("True")


def test_plain_kubeconfigs_do_not_import_the_kubernetes_library(tmp_path: Path) -> None:
    with serve(default=EMPTY) as stub:
        (tmp_path / "token").write_text("from-a-file\n")
        plain = write(tmp_path / "plain", config(stub, user={"tokenFile": "token"}))  # relative: next to it
        assert _imports_kubernetes(plain) == (0, False)
        script = exec_plugin(tmp_path, credential("from-a-plugin"))
        with_exec = write(tmp_path / "exec", config(stub, user=exec_user(script)))
        assert _imports_kubernetes(with_exec) == (0, True)
    seen = [bearer(h) for _, _, h in stub.seen]
    files = seen.count("Bearer from-a-file")
    assert files and seen == ["Bearer from-a-file"] * files + ["Bearer from-a-plugin"] * (len(seen) - files)


def test_inline_certificate_data_wins_over_a_file_and_is_private(tmp_path: Path) -> None:
    from kubectl_tke_net.sources import cluster

    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    kc = cluster._Kubeconfig(
        [str(tmp_path / "config")],
        clusters={
            "c": {
                "server": "https://x",
                "certificate-authority": "/nope",
                "certificate-authority-data": base64.b64encode(pem).decode(),
            }
        },
    )
    cfg = cluster._plain_config(kc, "c", None)
    assert cfg is not None and cfg.ssl_ca_cert and Path(cfg.ssl_ca_cert).read_bytes() == pem
    assert stat.S_IMODE(os.stat(cfg.ssl_ca_cert).st_mode) == 0o600
    with_provider = cluster._Kubeconfig(
        [], clusters={"c": {"server": "https://x"}}, users={"u": {"auth-provider": {"name": "oidc"}}}
    )
    assert cluster._plain_config(with_provider, "c", "u") is None
