"""The kube-proxy rules of a node (pure): the text a `--probe-rules` Pod read there (iptables-save, nft list ruleset,
ipvsadm -Ln, ip addr show kube-ipvs0) turned into where each Service address and NodePort leads.

Only what parses as an address and a port is kept, so nothing of the node's text reaches a report as it was written.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import shlex
import zlib
from dataclasses import dataclass

ADDRESS, NODE_PORT = "address", "node-port"  # an Entry on an address (ClusterIP, CLB, node address) or any NodePort
IPTABLES, NFTABLES, IPVS = "iptables", "nftables", "ipvs"
SECTIONS = ("iptables-save", "nft", "ipvsadm", "kube-ipvs0")
MAX_TEXT = 4_000_000  # bytes of rules text decoded from one Pod's message, at most
MAX_ENTRIES = 256
MAX_ENDPOINTS = 256


@dataclass(frozen=True)
class Entry:
    """Where traffic to one address (or, for NODE_PORT, one NodePort on any node address) goes."""

    kind: str  # ADDRESS or NODE_PORT
    address: str  # "" for NODE_PORT
    protocol: str  # "tcp", "udp", "sctp"
    port: int
    endpoints: tuple[str, ...]  # "IP:PORT" ("[IPv6]:PORT"), sorted; () where the rule rejects (no endpoint)


@dataclass(frozen=True)
class NodeRules:
    """What one node's kube-proxy programmed, as far as the rules Pod kept it."""

    mode: str | None  # IPTABLES, NFTABLES, IPVS; None: no kube-proxy rules at all
    entries: tuple[Entry, ...]
    bound: tuple[str, ...] | None  # the addresses on kube-ipvs0; None where it does not exist
    tools: tuple[tuple[str, int], ...]  # each section and its exit status (127: the node has no such tool)

    def find(self, kind: str, address: str, protocol: str, port: int) -> Entry | None:
        for e in self.entries:
            if e.kind == kind and e.address == address and e.protocol == protocol and e.port == port:
                return e
        return None


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


def _endpoint(text: str) -> str | None:
    """ "198.19.1.2:8080", "[fd00::5]:8080" checked and normalised; None for anything else."""
    m = re.fullmatch(r"\[?([0-9A-Fa-f.:]+?)\]?:(\d{1,5})", text.strip())
    if not m:
        return None
    ip = _ip(m.group(1))
    port = int(m.group(2))
    if ip is None or not 0 < port < 65536:
        return None
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def decode(message: str) -> str:
    """A rules Pod's termination message (gzip, then base64) as text; ValueError when it is not one."""
    text = message.strip()
    if text.startswith("too-large"):
        raise ValueError("too-large " + "".join(c for c in text[9:].strip() if c.isdigit())[:12])
    try:
        packed = base64.b64decode("".join(text.split()), validate=True)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = inflater.decompress(packed, MAX_TEXT)
    except (binascii.Error, zlib.error) as exc:
        raise ValueError("unreadable") from exc
    if not raw:
        raise ValueError("unreadable")
    return raw.decode("utf-8", "replace")


def sections(text: str) -> dict[str, tuple[int, str]]:
    """The rules Pod's sections: name -> (exit status, kept text)."""
    found: dict[str, tuple[int, str]] = {}
    name: str | None = None
    rc = 0
    lines: list[str] = []
    for line in [*text.splitlines(), "### end"]:
        m = re.fullmatch(r"### (\S+)(?: rc=(\d+))?", line)
        if m:
            if name in SECTIONS:
                found[name] = (rc, "\n".join(lines))
            name, rc, lines = m.group(1), int(m.group(2) or 0), []
            continue
        lines.append(line)
    return found


# --- iptables-save ---------------------------------------------------------------------------------------------

_CHAIN = re.compile(r"KUBE-(SVC|SVL|EXT|FW|SEP)-[A-Z0-9]+")


def _option(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args[:-1]):
        if a == name:
            return args[i + 1]
    return None


def parse_iptables(text: str) -> tuple[bool, list[Entry]]:
    """(kube-proxy's chains exist, the entries), from iptables-save output (whole or as the rules Pod kept it)."""
    table = ""
    chains: dict[tuple[str, str], list[list[str]]] = {}
    declared = False
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":KUBE-SERVICES ") and table == "nat":
            declared = True
        elif line.startswith("-A "):
            try:
                args = shlex.split(line)
            except ValueError:
                continue
            if len(args) > 1:
                chains.setdefault((table, args[1]), []).append(args[2:])

    def resolve(chain: str, seen: set[str]) -> set[str]:
        found: set[str] = set()
        if chain in seen:
            return found
        seen.add(chain)
        for rule in chains.get(("nat", chain), []):
            target = _option(rule, "--to-destination")
            if target is not None:
                ep = _endpoint(target)
                if ep:
                    found.add(ep)
                continue
            jump = _option(rule, "-j")
            if jump and _CHAIN.fullmatch(jump):
                found |= resolve(jump, seen)
        return found

    entries: list[Entry] = []
    for (table, chain), rules in chains.items():
        if chain not in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES"):
            continue
        for rule in rules:
            jump, port = _option(rule, "-j"), _port(_option(rule, "--dport") or "")
            protocol = (_option(rule, "-p") or "tcp").lower()
            dest = (_option(rule, "-d") or "").removesuffix("/32").removesuffix("/128")
            if jump is None or port is None or dest.startswith("127."):
                continue
            rejects = (
                table == "filter"
                and jump in ("REJECT", "DROP")
                and "no endpoints" in (_option(rule, "--comment") or "")
            )
            if table == "nat" and _CHAIN.fullmatch(jump):
                endpoints = tuple(sorted(resolve(jump, set())))
            elif rejects:
                endpoints = ()
            else:
                continue
            if chain == "KUBE-NODEPORTS" or (chain == "KUBE-EXTERNAL-SERVICES" and not dest):
                entries.append(Entry(NODE_PORT, "", protocol, port, endpoints))
            elif address := _ip(dest):
                entries.append(Entry(ADDRESS, address, protocol, port, endpoints))
    return declared or bool(entries), entries


# --- nft list ruleset --------------------------------------------------------------------------------------------

_ELEMENT = re.compile(
    r"^(?:(?P<addr>[0-9A-Fa-f.:]+) \. )?(?P<proto>tcp|udp|sctp) \. (?P<port>\d+)(?: comment \"[^\"]*\")?"
    r" : (?:goto|jump) (?P<chain>\S+)$"
)


def parse_nft(text: str) -> tuple[bool, list[Entry]]:
    """(kube-proxy's nftables tables exist, the entries), from `nft list ruleset` (whole or as the Pod kept it)."""
    found_table = False
    chains: dict[str, list[str]] = {}
    maps: dict[str, list[str]] = {}
    in_table = False
    block: tuple[str, str] | None = None  # ("chain"|"map", name)
    elements: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("table "):
            in_table = bool(re.match(r"table ip6? kube-proxy \{", line))
            found_table = found_table or in_table
            continue
        if not in_table:
            continue
        if line.startswith("}"):
            in_table, block = False, None
            continue
        m = re.match(r"\t(chain|map|set) (\S+) \{", line)
        if m:
            block = (m.group(1), m.group(2))
            continue
        if block is None:
            continue
        if re.fullmatch(r"\t}", line):
            block = None
            continue
        if block[0] == "chain":
            chains.setdefault(block[1], []).append(stripped)
        elif block[0] == "map":
            if elements is None and stripped.startswith("elements = {"):
                elements = []
                stripped = stripped[len("elements = {") :]
            if elements is not None:
                done = stripped.endswith("}")
                elements.extend(p.strip() for p in stripped.rstrip("}").split(","))
                if done:
                    maps[block[1]] = [e for e in elements if e]
                    elements = None

    def resolve(chain: str, seen: set[str]) -> set[str]:
        out: set[str] = set()
        if chain in seen:
            return out
        seen.add(chain)
        for rule in chains.get(chain, []):
            for target in re.findall(r"dnat (?:ip6? )?to (\S+)", rule):
                ep = _endpoint(target.rstrip(","))
                if ep:
                    out.add(ep)
            for nxt in re.findall(r"(?:goto|jump) ([^\s,}]+)", rule):
                out |= resolve(nxt, seen)
        return out

    entries: list[Entry] = []
    for name, kind, rejects in (
        ("service-ips", ADDRESS, False),
        ("no-endpoint-services", ADDRESS, True),
        ("service-nodeports", NODE_PORT, False),
        ("no-endpoint-nodeports", NODE_PORT, True),
    ):
        for element in maps.get(name, []):
            m = _ELEMENT.match(element)
            port = _port(m.group("port")) if m else None
            if m is None or port is None:
                continue
            address = _ip(m.group("addr") or "") if kind == ADDRESS else ""
            if address is None:
                continue
            endpoints = () if rejects else tuple(sorted(resolve(m.group("chain"), set())))
            entries.append(Entry(kind, address, m.group("proto"), port, endpoints))
    return found_table, entries


# --- IPVS ------------------------------------------------------------------------------------------------------


def parse_ipvsadm(text: str) -> list[Entry]:
    """The virtual services of `ipvsadm -Ln` and their real servers (weight 0, a terminating one, left out)."""
    entries: list[Entry] = []
    current: tuple[str, str, int] | None = None
    servers: list[str] = []

    def close() -> None:
        if current is not None:
            entries.append(Entry(ADDRESS, current[0], current[1], current[2], tuple(sorted(set(servers)))))

    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in ("TCP", "UDP", "SCTP") and len(parts) >= 2:
            close()
            current, servers = None, []
            ep = _endpoint(parts[1])
            if ep is not None:
                address, _sep, port = ep.rpartition(":")
                current = (address.strip("[]"), parts[0].lower(), int(port))
        elif len(parts) >= 4 and parts[0] == "->" and current is not None:
            ep = _endpoint(parts[1])
            if ep is not None and parts[3].isdigit() and int(parts[3]) > 0:
                servers.append(ep)
    close()
    return entries


def parse_kube_ipvs0(text: str) -> tuple[str, ...] | None:
    """The addresses `ip addr show kube-ipvs0` lists; None when the interface is not there."""
    if not re.search(r"^\d+: kube-ipvs0[:@]", text, re.M):
        return None
    found = []
    for m in re.finditer(r"^\s+inet6? (\S+?)/\d+", text, re.M):
        ip = _ip(m.group(1))
        if ip:
            found.append(ip)
    return tuple(sorted(set(found)))


def node_rules(text: str) -> NodeRules:
    """Everything a rules Pod reported, parsed; the mode is IPVS where IPVS has services or kube-ipvs0 exists,
    else nftables where kube-proxy's table exists, else iptables where its chains do."""
    parts = sections(text)
    tools = tuple((name, parts[name][0]) for name in SECTIONS if name in parts)

    def body(name: str) -> str:
        rc, kept = parts.get(name, (1, ""))
        return kept if rc == 0 else ""

    ipvs = parse_ipvsadm(body("ipvsadm"))
    bound = parse_kube_ipvs0(body("kube-ipvs0"))
    has_nft, nft = parse_nft(body("nft"))
    has_ipt, ipt = parse_iptables(body("iptables-save"))
    mode: str | None
    if ipvs or bound is not None:
        mode, entries = IPVS, ipvs
    elif has_nft:
        mode, entries = NFTABLES, nft
    elif has_ipt:
        mode, entries = IPTABLES, ipt
    else:
        mode, entries = None, []
    trimmed = tuple(replace_endpoints(e) for e in entries[:MAX_ENTRIES])
    return NodeRules(mode, trimmed, bound, tools)


def replace_endpoints(e: Entry) -> Entry:
    return (
        e
        if len(e.endpoints) <= MAX_ENDPOINTS
        else Entry(e.kind, e.address, e.protocol, e.port, e.endpoints[:MAX_ENDPOINTS])
    )
