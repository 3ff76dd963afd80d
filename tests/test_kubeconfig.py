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


# --- no kubeconfig needs the kubernetes library (start-up cost) ---------------------------------------------


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


def test_no_kubeconfig_imports_the_kubernetes_library(tmp_path: Path) -> None:
    """Plain and exec-plugin kubeconfigs alike are read by the plugin's own reader."""
    with serve(default=EMPTY) as stub:
        (tmp_path / "token").write_text("from-a-file\n")
        plain = write(tmp_path / "plain", config(stub, user={"tokenFile": "token"}))  # relative: next to it
        assert _imports_kubernetes(plain) == (0, False)
        script = exec_plugin(tmp_path, credential("from-a-plugin"))
        with_exec = write(tmp_path / "exec", config(stub, user=exec_user(script)))
        assert _imports_kubernetes(with_exec) == (0, False)
    seen = [bearer(h) for _, _, h in stub.seen]
    files = seen.count("Bearer from-a-file")
    assert files and seen == ["Bearer from-a-file"] * files + ["Bearer from-a-plugin"] * (len(seen) - files)


def test_inline_certificate_data_wins_over_a_file_and_is_private(tmp_path: Path) -> None:
    from kubectl_tke_net.sources import kubeconfig

    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    kc = kubeconfig._Kubeconfig(
        [str(tmp_path / "config")],
        clusters={
            "c": {
                "server": "https://x",
                "certificate-authority": "/nope",
                "certificate-authority-data": base64.b64encode(pem).decode(),
            }
        },
    )
    cfg = kubeconfig._settings(kc, "c", None)
    assert cfg.ca_file and Path(cfg.ca_file).read_bytes() == pem
    assert stat.S_IMODE(os.stat(cfg.ca_file).st_mode) == 0o600


# --- exec plugins, auth providers and the in-cluster service account, read natively -----------------------


def test_exec_plugin_gets_its_args_env_and_exec_info(cli: CLI, tmp_path: Path) -> None:
    """v1beta1 too; args and env as given; KUBERNETES_EXEC_INFO with the cluster when provideClusterInfo."""
    script = tmp_path / "plugin"
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "seen = [info['apiVersion'][-7:], sys.argv[1], os.environ['PLUGIN_ENV'], str(info['spec']['interactive']),\n"
        "        info['spec']['cluster']['server'].split(':')[0], str(bool(info['spec']['cluster'].get('config')))]\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',\n"
        "                  'status': {'token': '-'.join(seen)}}))\n"
    )
    script.chmod(0o700)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": str(script),
            "args": ["an-arg"],
            "env": [{"name": "PLUGIN_ENV", "value": "from-env"}],
            "provideClusterInfo": True,
        }
    }
    with serve(default=EMPTY) as stub:
        cluster = {
            **stub.cluster(),
            "extensions": [{"name": "client.authentication.k8s.io/exec", "extension": {"audience": "x"}}],
        }
        path = write(tmp_path / "config", config(cluster=cluster, user=user))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0, run.err
    assert {bearer(h) for _, _, h in stub.seen} == {"Bearer v1beta1-an-arg-from-env-False-https-True"}


def test_exec_plugin_relative_command_is_relative_to_the_kubeconfig(cli: CLI, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    exec_plugin(tmp_path / "bin", credential("relative"))
    with serve(default=EMPTY) as stub:
        user = exec_user(Path("bin/credential-plugin"))
        path = write(tmp_path / "config", config(stub, user=user))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0, run.err
    assert {bearer(h) for _, _, h in stub.seen} == {"Bearer relative"}


def test_an_expired_exec_token_is_fetched_again(cli: CLI, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    script = tmp_path / "plugin"
    script.write_text(
        f"#!{sys.executable}\nimport json\n"
        f"with open({str(runs)!r}, 'a') as fh: fh.write('x')\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        "  'status': {'token': 'short-lived', 'expirationTimestamp': '2020-01-01T00:00:00Z'}}))\n"
    )
    script.chmod(0o700)
    with serve(default=EMPTY) as stub:
        path = write(tmp_path / "config", config(stub, user=exec_user(script)))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0, run.err
    assert len(runs.read_text()) > 1 and {bearer(h) for _, _, h in stub.seen} == {"Bearer short-lived"}


def test_exec_plugin_client_certificate_is_kept_in_private_files(tmp_path: Path) -> None:
    from kubectl_tke_net.sources import kubeconfig

    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    out = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"clientCertificateData": pem, "clientKeyData": "KEY " + TOKEN},
    }
    script = exec_plugin(tmp_path, json.dumps(out))
    kc = kubeconfig._Kubeconfig(
        [str(tmp_path / "config")], clusters={"c": {"server": "https://x"}}, users={"u": exec_user(script)}
    )
    cfg = kubeconfig._settings(kc, "c", "u")
    assert cfg.token is None and cfg.cert_file and cfg.key_file
    assert Path(cfg.cert_file).read_text() == pem and Path(cfg.key_file).read_text() == "KEY " + TOKEN
    assert stat.S_IMODE(os.stat(cfg.key_file).st_mode) == 0o600
    assert TOKEN not in repr(cfg)


def _exec_cases(tmp_path: Path) -> dict[str, tuple[dict[str, Any], str]]:
    missing = str(tmp_path / "no-such-plugin")
    wrong_version = exec_plugin(tmp_path, credential("x").replace("/v1", "/v1beta1"))
    return {
        "install hint": (
            {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": missing,
                    "installHint": "install it with\n  brew install the-plugin",
                    "interactiveMode": "Never",
                }
            },
            f'error: user "u": the exec credential plugin "{missing}" failed: exec: executable {missing} not '
            "found; install it with brew install the-plugin",
        ),
        "interactive only": (
            {"exec": {**exec_user(wrong_version)["exec"], "interactiveMode": "Always"}},
            "the plugin asks for a terminal (interactiveMode: Always) and stdin is not one",
        ),
        "old api version": (
            {"exec": {**exec_user(wrong_version)["exec"], "apiVersion": "client.authentication.k8s.io/v1alpha1"}},
            "exec: apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported",
        ),
        "answer of another version": (
            exec_user(wrong_version),
            "exec: plugin api version client.authentication.k8s.io/v1beta1 does not match "
            "client.authentication.k8s.io/v1",
        ),
    }


EXEC_CASES = list(_exec_cases(Path("/tmp")))


@pytest.mark.parametrize("case", EXEC_CASES)
def test_exec_plugins_that_cannot_be_used(cli: CLI, tmp_path: Path, case: str) -> None:
    user, words = _exec_cases(tmp_path)[case]
    path = write(tmp_path / "config", config(user=user))
    run = cli("svc", "--kubeconfig", str(path))
    assert run.status == 3 and run.out == "" and run.err.count("\n") == 1, run.err
    assert run.err.startswith("error: ") and words in run.err, run.err


def jwt(claims: dict[str, Any]) -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_an_oidc_id_token_is_sent_while_it_is_valid(cli: CLI, tmp_path: Path) -> None:
    import time

    token = jwt({"iss": "https://issuer", "exp": int(time.time()) + 3600})
    user = {"auth-provider": {"name": "oidc", "config": {"id-token": token, "refresh-token": "r"}}}
    with serve(default=EMPTY) as stub:
        path = write(tmp_path / "config", config(stub, user=user))
        run = cli("svc", "--kubeconfig", str(path), "-o", "json")
    assert run.status == 0, run.err
    assert {bearer(h) for _, _, h in stub.seen} == {f"Bearer {token}"}


AUTH_PROVIDERS = {
    "oidc expired": (
        {"name": "oidc", "config": {"id-token": jwt({"exp": 1_600_000_000}), "refresh-token": TOKEN}},
        'error: user "u": its oidc id-token is missing or has expired, and the plugin does not refresh it',
    ),
    "oidc without id-token": (
        {"name": "oidc", "config": {"refresh-token": TOKEN}},
        'error: user "u": its oidc id-token is missing or has expired',
    ),
    "gcp": (
        {"name": "gcp", "config": {"access-token": TOKEN}},
        'error: user "u": the gcp auth provider was removed in kubectl 1.26; use its exec credential plugin '
        "instead: gke-gcloud-auth-plugin",
    ),
    "azure": (
        {"name": "azure", "config": {"access-token": TOKEN}},
        'error: user "u": the azure auth provider was removed in kubectl 1.26; use its exec credential plugin '
        "instead: kubelogin",
    ),
    "unknown": ({"name": "openstack"}, 'error: user "u": auth provider "openstack" is not one kubectl has'),
}


@pytest.mark.parametrize("case", list(AUTH_PROVIDERS))
def test_auth_providers_that_cannot_be_used(cli: CLI, tmp_path: Path, case: str) -> None:
    provider, expected = AUTH_PROVIDERS[case]
    path = write(tmp_path / "config", config(user={"auth-provider": provider}))
    run = cli("svc", "--kubeconfig", str(path), "-v")
    assert run.status == 3 and run.out == "" and run.err.count("\n") == 1, run.err
    assert run.err.startswith(expected), run.err
    assert TOKEN not in run.err


def service_account(tmp_path: Path, stub: Stub | None = None, token: str = "sa-token\n") -> Path:
    folder = tmp_path / "serviceaccount"
    folder.mkdir(exist_ok=True)
    (folder / "token").write_text(token)
    if stub is not None and stub.ca:
        (folder / "ca.crt").write_text(Path(stub.ca).read_text())
    (folder / "namespace").write_text("team-a\n")
    return folder


def test_in_cluster_config_without_a_kubeconfig(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubectl_tke_net.sources import kubeconfig

    with serve(default=EMPTY) as stub:
        monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", str(service_account(tmp_path, stub)))
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", stub.url.rsplit(":", 1)[1])
        run = cli("svc", "-o", "json")
    assert run.status == 0, run.err
    assert run.json()["source"] == {"context": None, "cluster": None, "snapshot": None}
    assert {bearer(h) for _, _, h in stub.seen} == {"Bearer sa-token"}
    assert any(p.startswith("/api/v1/namespaces/team-a/services") for _, p, _ in stub.seen)


@pytest.mark.parametrize(
    ("broken", "words"),
    [
        ("no port", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set"),
        ("no token", "cannot read {folder}/token: No such file or directory"),
        ("empty token", "{folder}/token is empty"),
        ("no CA", "{folder}/ca.crt does not exist"),
    ],
)
def test_in_cluster_config_that_cannot_be_used(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str, words: str
) -> None:
    from kubectl_tke_net.sources import kubeconfig

    folder = service_account(tmp_path, token="" if broken == "empty token" else TOKEN)
    if broken != "no CA":
        (folder / "ca.crt").write_text("not read: the token fails first\n")
    if broken == "no token":
        (folder / "token").unlink()
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", str(folder))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    if broken == "no port":
        monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    else:
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "1")
    run = cli("svc")
    assert run.status == 3 and run.err.count("\n") == 1, run.err
    assert run.err == f"error: in-cluster configuration failed: {words.format(folder=folder)}\n"
