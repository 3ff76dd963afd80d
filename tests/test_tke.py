"""TKE knowledge: tag parsing and ordering, loopback-fixed versions, proxy-mode detection."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_tke_net import tke
from kubectl_tke_net.tke import TkeVersion


def v(tag: str) -> TkeVersion:
    parsed = TkeVersion.parse(tag)
    assert parsed is not None, tag
    return parsed


@pytest.mark.parametrize(("minor", "fixed"), sorted(tke.MIN_LOOPBACK_FIXED.items()))
def test_boundaries_of_every_minor(minor: tuple[int, int], fixed: str) -> None:
    base, build = fixed.split("-tke.")
    assert tke.min_fixed(v(fixed)) == (fixed, True)
    assert tke.min_fixed(v(f"{base}-tke.{int(build) + 1}")) == (fixed, True)
    assert tke.min_fixed(v(f"{base}-tke.{int(build) - 1}")) == (fixed, False)
    # An -rc of the fixed build comes before it, so it is not fixed yet.
    assert tke.min_fixed(v(f"{fixed}-rc1")) == (fixed, False)
    major, minor_n, patch = base[1:].split(".")
    assert tke.min_fixed(v(f"v{major}.{minor_n}.{int(patch) + 1}-tke.1")) == (fixed, True)
    assert v(fixed).minor == minor


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.26.1-tke.1", (None, None)),  # no source confirms a fix for 1.26: unknown
        ("v1.30.0-tke.2", (None, True)),
        ("v1.34.1-tke.8", (None, True)),
        ("v1.10.5-tke.20", (None, False)),
        ("v1.27.2-tke.4", (None, None)),
    ],
)
def test_minors_outside_the_table(tag: str, expected: tuple[str | None, bool | None]) -> None:
    assert tke.min_fixed(v(tag)) == expected


@pytest.mark.parametrize("tag", ["v1.28.3", "1.20.6-tke.12", "v1.20.6-tke", "latest", "v1.20.6-tke.12-beta1", ""])
def test_tags_that_are_not_tke_versions(tag: str) -> None:
    assert TkeVersion.parse(tag) is None


def test_ordering() -> None:
    tags = ["v1.18.4-tke.49", "v1.18.4-tke.49-rc1", "v1.18.4-tke.5", "v1.18.4-tke.49-rc2", "v1.18.10-tke.1"]
    assert [t.tag for t in sorted(v(t) for t in tags)] == [
        "v1.18.4-tke.5",
        "v1.18.4-tke.49-rc1",
        "v1.18.4-tke.49-rc2",
        "v1.18.4-tke.49",
        "v1.18.10-tke.1",
    ]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.3",
            ("ccr.ccs.tencentyun.com/tkeimages/hyperkube", "v1.20.6-tke.3"),
        ),
        (
            "hkccr.ccs.tencentyun.com/tkeimages/kube-proxy:v1.22.5-tke.1",
            ("hkccr.ccs.tencentyun.com/tkeimages/kube-proxy", "v1.22.5-tke.1"),
        ),
        ("registry.local:5000/kube-proxy:v1.24.4-tke.6", ("registry.local:5000/kube-proxy", "v1.24.4-tke.6")),
        ("registry.local:5000/kube-proxy", ("registry.local:5000/kube-proxy", None)),
        ("kube-proxy@sha256:abc", ("kube-proxy", None)),
    ],
)
def test_split_image(image: str, expected: tuple[str, str | None]) -> None:
    assert tke.split_image(image) == expected


def daemonset(
    command: list[str] | None = None,
    args: list[str] | None = None,
    image: str = "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.3",
    mounts: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "kube-proxy", "image": image}
    if command is not None:
        container["command"] = command
    if args is not None:
        container["args"] = args
    if mounts:
        container["volumeMounts"] = mounts
    return {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "sidecar", "image": "x", "args": ["--proxy-mode=iptables"]}, container],
                    "volumes": volumes or [],
                }
            }
        }
    }


@pytest.mark.parametrize(
    ("ds", "mode"),
    [
        (daemonset(args=["--proxy-mode=ipvs"]), "ipvs"),
        (daemonset(args=["--proxy-mode", "ipvs"]), "ipvs"),
        (daemonset(command=["kube-proxy", "--proxy-mode=ipvs"]), "ipvs"),
        (daemonset(command=["/bin/sh", "-c", "exec kube-proxy --proxy-mode=ipvs --v=2"]), "ipvs"),
        (daemonset(args=["--proxy-mode=iptables"]), "iptables"),
        (daemonset(args=["--v=2"]), "iptables"),
        (
            daemonset(
                args=["--config=/var/lib/kube-proxy/config.conf"],
                mounts=[{"name": "cfg", "mountPath": "/var/lib/kube-proxy"}],
                volumes=[{"name": "cfg", "configMap": {"name": "kube-proxy"}}],
            ),
            "ipvs",
        ),
        (
            daemonset(
                args=["--config", "/etc/kp/conf.yaml"],
                mounts=[{"name": "cfg", "mountPath": "/etc/kp/conf.yaml", "subPath": "config.conf"}],
                volumes=[{"name": "cfg", "configMap": {"name": "kube-proxy"}}],
            ),
            "ipvs",
        ),
        (daemonset(args=["--config=/missing/config.conf"]), "iptables"),
    ],
)
def test_proxy_mode(ds: dict[str, Any], mode: str) -> None:
    configmaps = {
        "kube-proxy": {
            "data": {
                "config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                "kind: KubeProxyConfiguration\nmode: ipvs\n"
            }
        }
    }
    assert tke.detect_kube_proxy(ds, configmaps).mode == mode


def test_no_daemonset_is_unknown() -> None:
    assert tke.detect_kube_proxy(None, {}).as_dict() == {
        "mode": "unknown",
        "image": None,
        "version": None,
        "minFixed": None,
        "loopbackFixed": None,
    }


def test_report_object_of_an_old_ipvs_proxy() -> None:
    proxy = tke.detect_kube_proxy(daemonset(args=["--proxy-mode=ipvs"]), {})
    assert proxy.as_dict() == {
        "mode": "ipvs",
        "image": "ccr.ccs.tencentyun.com/tkeimages/hyperkube:v1.20.6-tke.3",
        "version": "v1.20.6-tke.3",
        "minFixed": "v1.20.6-tke.12",
        "loopbackFixed": False,
    }


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("sg-12345678", True),
        ("sg-12345678, sg-abcdefgh", True),
        (",".join(f"sg-0000000{i}" for i in range(5)), True),
        (",".join(f"sg-0000000{i}" for i in range(6)), False),
        ("sg-1", False),
        ("sg-12345678;sg-abcdefgh", False),
        ("", False),
        ("SG-12345678", False),
    ],
)
def test_security_groups(value: str, ok: bool) -> None:
    assert (tke.security_group_problem(value) is None) is ok
