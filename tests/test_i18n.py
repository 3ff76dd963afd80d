"""--lang zh: catalogue completeness, language resolution, Chinese goldens, CJK alignment, language-free JSON."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from wcwidth import wcswidth

from kubectl_tke_net import i18n
from tests.conftest import CLI, fixture, golden, kubeconfig
from tools import i18n_catalog

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

PO = i18n_catalog.LOCALE_DIR / "zh" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


@pytest.fixture(autouse=True)
def english_afterwards(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts and ends in English, whatever the machine's locale (other tests call checks directly)."""
    for name in (*i18n.LOCALE_VARIABLES, "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    i18n.set_language("en")
    yield
    i18n.set_language("en")


# --- the catalogue ---------------------------------------------------------------------------------------


def test_every_message_has_a_chinese_translation() -> None:
    """The same extraction as `make i18n`: missing, empty, fuzzy, stale entries and differing placeholders."""
    assert i18n_catalog.problems(PO) == []


def test_extraction_finds_messages_docstrings_and_plurals() -> None:
    from kubectl_tke_net.checks import catalog as checks

    checks.load_all()
    found = {m for m, _rel, _line in i18n_catalog.extract()}
    assert checks.CHECKS["TKE302"].doc in found  # a check's docstring, whole and cleaned
    assert "internal LoadBalancer Service without prevent-loopback" in found  # a title (N_)
    assert ("{n} error", "{n} errors") in found  # ngettext
    assert "no ready endpoint; {detail}" in found


def _mutated(tmp_path: Path, edit: Callable[[Catalog], object]) -> list[str]:
    from babel.messages.pofile import read_po, write_po

    with PO.open("rb") as f:
        catalog = read_po(f)
    edit(catalog)
    path = tmp_path / PO.name
    with path.open("wb") as f:
        write_po(f, catalog)
    return i18n_catalog.problems(path)


def test_the_completeness_check_can_fail(tmp_path: Path) -> None:
    def missing(c: Catalog) -> None:
        c.delete("no ready endpoint; {detail}")

    def empty(c: Catalog) -> None:
        c["Nothing to change."].string = ""

    def fuzzy(c: Catalog) -> None:
        c["No problems found."].flags.add("fuzzy")

    def stale(c: Catalog) -> None:
        c.add("a message no code uses any more", "不再使用的消息")

    def placeholder(c: Catalog) -> None:
        c["Verdict: {verdict}"].string = "结论：{result}"

    assert any("missing" in p and "no ready endpoint" in p for p in _mutated(tmp_path, missing))
    assert any("not translated" in p and "Nothing to change" in p for p in _mutated(tmp_path, empty))
    assert any("fuzzy" in p and "No problems found" in p for p in _mutated(tmp_path, fuzzy))
    assert any("stale" in p and "no code uses" in p for p in _mutated(tmp_path, stale))
    assert any("placeholders differ" in p for p in _mutated(tmp_path, placeholder))


def test_placeholders_ignore_literal_braces() -> None:
    assert i18n_catalog.placeholders("{ns} -o jsonpath='{{.spec.ports}}' {name}") == ["{name}", "{ns}"]
    assert i18n_catalog.placeholders("arg %(x)s: {a}") == ["%(x)s", "{a}"]


def test_compiled_catalogue_is_current(tmp_path: Path) -> None:
    """The .mo the tests run with is what the .po compiles to (make install / make test rebuild it)."""
    built = i18n_catalog.compile_all(tmp_path)
    installed = i18n_catalog.LOCALE_DIR / "zh" / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
    assert [p.read_bytes() for p in built] == [installed.read_bytes()]


def test_a_missing_catalogue_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CLI) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    with pytest.raises(i18n.CatalogMissing, match=r"kubectl-tke-net\.mo"):
        i18n.set_language("zh")
    run = cli("version", "--lang", "zh")
    assert run.status == 0 and "zh message catalogue is not installed" in run.err


# --- language resolution --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW"}, "zh"),
        ({"LANG": "zh"}, "zh"),
        ({"LANG": "zu_ZA.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "zh_CN.GB18030", "LANG": "C"}, "zh"),
        ({"LC_ALL": "", "LANG": "zh_SG"}, "zh"),  # set but empty does not count
    ],
)
def test_language_from_environment(env: dict[str, str], expected: str) -> None:
    assert i18n.language_from_env(env) == expected


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["svc", "--lang", "en"], {"LANG": "zh_CN.UTF-8"}, "en"),
        (["svc", "--lang=zh"], {"LC_ALL": "en_US.UTF-8"}, "zh"),
        (["--lang", "zh", "svc"], {}, "zh"),
        (["svc", "--lang", "fr"], {"LANG": "zh_CN.UTF-8"}, "zh"),  # invalid: argparse reports it, env decides
        (["svc", "--", "--lang", "zh"], {}, "en"),
    ],
)
def test_flag_beats_environment(argv: list[str], env: dict[str, str], expected: str) -> None:
    assert i18n.resolve(argv, env) == expected


def test_unknown_language_is_a_usage_error(cli: CLI) -> None:
    run = cli("svc", "--lang", "fr", "--snapshot", fixture("healthy"))
    assert run.status == 2 and run.out == "" and run.err.startswith("error: ") and "--lang" in run.err


def test_environment_chooses_chinese(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert "未发现问题。" in cli("svc", "-A", "--snapshot", fixture("healthy")).out
    assert "No problems found." in cli("svc", "-A", "--snapshot", fixture("healthy"), "--lang", "en").out


def test_help_text_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    from kubectl_tke_net.cli import main

    with pytest.raises(SystemExit):
        main(["loopback", "--help", "--lang", "zh"])
    out = capsys.readouterr().out
    assert "用法：" in out and "显示此帮助信息并退出" in out and "所有命名空间" in out
    assert "--all-namespaces" in out and "--lang LANG" in out  # flag names never change
    with pytest.raises(SystemExit):
        main(["loopback", "--help", "--lang", "en"])
    out = capsys.readouterr().out
    assert "usage:" in out and "every namespace" in out and "所有" not in out


def test_usage_error_in_chinese(cli: CLI) -> None:
    run = cli("svc", "--bogus", "--lang", "zh")
    assert run.status == 2 and run.err.startswith("error: 无法识别的参数：--bogus")
    assert run.err.count("\n") == 1


# --- goldens ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("loopback", ("loopback", "-A", "--snapshot", "tests/fixtures/loopback.yaml")),
        ("services", ("svc", "-A", "--snapshot", "tests/fixtures/services.yaml")),
    ],
)
def test_table_golden(cli: CLI, lang: str, name: str, args: tuple[str, ...]) -> None:
    run = cli(*args, "--lang", lang)
    assert run.status == 1 and run.err == ""
    golden(f"{name}.table" if lang == "en" else f"{name}.{lang}.table", run.out)


def test_wide_golden_in_chinese(cli: CLI) -> None:
    run = cli("svc", "-A", "--snapshot", "tests/fixtures/services.yaml", "-o", "wide", "--lang", "zh")
    golden("services.zh.wide", run.out)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_checks_code_golden(cli: CLI, lang: str) -> None:
    run = cli("checks", "TKE302", "--lang", lang)
    assert run.status == 0
    golden(f"checks-TKE302.{lang}.txt", run.out)


def test_checks_list_in_chinese(cli: CLI) -> None:
    out = cli("checks", "--lang", "zh").out
    assert "TKE302" in out and "内网 LoadBalancer Service 未设置 prevent-loopback" in out
    assert "warning" in out  # the severity column of the catalogue is the enum value


# --- what never changes with the language ----------------------------------------------------------------

# Texts: translated. "reason" of skipped: tke-net's own reasons are translated, the API server's are kept as sent.
TEXT_KEYS = {"message", "remediation", "docs", "doc", "title", "reason"}


def _without_text(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_text(v) for k, v in value.items() if k not in TEXT_KEYS}
    if isinstance(value, list):
        return [_without_text(v) for v in value]
    return value


@pytest.mark.parametrize(
    "args",
    [
        ("loopback", "-A", "--snapshot", "tests/fixtures/loopback.yaml"),
        ("svc", "-A", "--snapshot", "tests/fixtures/services.yaml"),
        ("ingress", "-A", "--snapshot", "tests/fixtures/ingress-backends.yaml"),
        ("ingress", "-A", "--snapshot", "tests/fixtures/ingress-tls.yaml"),
        ("checks", "TKE302"),
        ("checks",),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_documents_identical_in_both_languages(cli: CLI, args: tuple[str, ...], fmt: str) -> None:
    import yaml

    en = yaml.safe_load(cli(*args, "-o", fmt, "--lang", "en").out)
    zh = yaml.safe_load(cli(*args, "-o", fmt, "--lang", "zh").out)
    assert _without_text(en) == _without_text(zh)
    assert en != zh  # the texts themselves are translated


def test_json_keeps_codes_severities_and_keys(cli: CLI) -> None:
    doc = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "json", "--lang", "zh").json()
    assert {f["severity"] for f in doc["findings"]} <= {"error", "warning", "info"}
    assert all(re.fullmatch(r"TKE\d{3}", f["code"]) for f in doc["findings"])
    assert all(f["docs"].endswith(f"/docs/checks/zh/{f['code']}.md") for f in doc["findings"])
    assert any("就绪" in f["message"] for f in doc["findings"])


def test_junit_keeps_english_attributes(cli: CLI) -> None:
    out = cli("svc", "-A", "--snapshot", fixture("services"), "-o", "junit", "--lang", "zh").out
    assert 'type="error"' in out and 'classname="tke-net.service.TKE101"' in out and "选择器" in out


# --- alignment with wide characters ----------------------------------------------------------------------


def _column_starts(header: str) -> list[int]:
    """Display columns where each header word starts (headers are single words in both languages)."""
    starts, col, previous = [], 0, " "
    for ch in header:
        if ch != " " and previous == " ":
            starts.append(col)
        col += wcswidth(ch)
        previous = ch
    return starts


def _cell_starts(line: str, starts: list[int]) -> bool:
    """True when every column of `line` begins (after two spaces of padding) at the header's display column."""
    col, at = 0, {}
    for i, ch in enumerate(line):
        at[col] = i
        col += wcswidth(ch)
    for start in starts[1:]:
        pos = at.get(start)
        if pos is None or line[pos] == " " or line[pos - 2 : pos] != "  ":
            return False
    return True


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("wide", [False, True])
def test_columns_align_by_display_width(cli: CLI, lang: str, wide: bool) -> None:
    fmt = "wide" if wide else "table"
    out = cli("loopback", "-A", "--snapshot", fixture("loopback"), "-o", fmt, "--lang", lang).out
    lines = out.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith(("SEVERITY", "级别")))
    header = lines[header_at]
    starts = _column_starts(header)
    assert len(starts) == (5 if wide else 4)
    rows = [line for line in lines[header_at + 1 :] if re.match(r"^\S+\s+TKE\d{3}\s", line)]
    assert rows and all(_cell_starts(row, starts) for row in rows)
    if lang == "zh":
        assert any(wcswidth(row) != len(row) for row in rows)  # the test does see wide characters


def test_alignment_check_detects_misalignment() -> None:
    header = "级别    检查码    对象"
    starts = _column_starts(header)
    assert _cell_starts("错误    TKE301    x", starts)
    assert not _cell_starts("错误  TKE301      x", starts)  # what len()-based padding would give


def test_docs_pages_exist_in_chinese() -> None:
    from kubectl_tke_net.checks import catalog as checks

    checks.load_all()
    root = Path(__file__).resolve().parents[1] / "docs" / "checks" / "zh"
    for code in ("TKE101", "TKE302", "TKE303"):
        text = (root / f"{code}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {code}：") and "## 如何修复" in text


def test_no_babel_at_run_time() -> None:
    """Start-up stays cheap: the runtime imports only the standard library's gettext."""
    import subprocess
    import sys

    code = (
        "import sys; from kubectl_tke_net.cli import main; main(['version', '--lang', 'zh']); "
        "print('babel' in sys.modules, 'tools.i18n_catalog' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.splitlines()[-1] == "False False"


def test_build_hook_compiles_into_the_build_dir(tmp_path: Path) -> None:
    """setup.py's build_py writes the .mo under build_lib (the wheel) from the committed .po."""
    written = i18n_catalog.compile_all(tmp_path)
    assert written == [tmp_path / "kubectl_tke_net" / "locale" / "zh" / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"]
    shutil.rmtree(tmp_path / "kubectl_tke_net")


# --- errors and notes tke-net writes itself --------------------------------------------------------------


def test_kubeconfig_error_in_chinese(cli: CLI, tmp_path: Path) -> None:
    """One line, exit 3, the context name and the path unchanged inside the Chinese text; English as before."""
    path = kubeconfig(tmp_path)
    zh = cli("svc", "--kubeconfig", str(path), "--context", "prod", "--lang", "zh")
    assert (zh.status, zh.out, zh.err) == (3, "", f'error: 在 {path} 中找不到上下文 "prod"\n')
    en = cli("svc", "--kubeconfig", str(path), "--context", "prod", "--lang", "en")
    assert (en.status, en.err) == (3, f'error: context "prod" not found in {path}\n')


def test_malformed_snapshot_in_chinese(cli: CLI, tmp_path: Path) -> None:
    """The snapshot error and the shape problem inside it are both translated; paths and fields are not."""
    path = tmp_path / "bad.yaml"
    path.write_text("kind: Service\nmetadata: {name: web, namespace: app, labels: {app: 3}}\nspec: {ports: []}\n")
    zh = cli("svc", "-A", "--snapshot", str(path), "--lang", "zh")
    assert (zh.status, zh.out) == (2, "") and zh.err.count("\n") == 1
    assert zh.err == (
        f"error: 快照 {path} 格式错误：Service app/web：metadata.labels['app'] 是数字（3），而不是文本（请加引号）\n"
    )
    en = cli("svc", "-A", "--snapshot", str(path), "--lang", "en")
    assert en.err == (
        f"error: malformed snapshot {path}: Service app/web: metadata.labels['app'] is a number (3), "
        "not text (quote it)\n"
    )
    missing = cli("svc", "--snapshot", str(tmp_path / "nope"), "--lang", "zh")
    assert (missing.status, missing.err) == (2, f"error: 快照 {tmp_path / 'nope'} 不存在\n")


def test_forbidden_keeps_the_servers_message_in_chinese(cli: CLI, tmp_path: Path) -> None:
    """skipped[].reason: "forbidden: " and the API server's own message stay as sent, whatever the language."""
    from tests.stubserver import Answer, serve

    message = 'services is forbidden: User "u" cannot list resource "services"'
    with serve(default=Answer(403, {"kind": "Status", "code": 403, "message": message})) as stub:
        path = stub.kubeconfig(tmp_path / "config")
        doc = cli("svc", "-A", "--kubeconfig", str(path), "-o", "json", "--lang", "zh").json()
    reasons = {s["reason"] for s in doc["skipped"]}
    assert f"forbidden: {message}" in reasons
    with serve(default=Answer(403, {"kind": "Status", "code": 403})) as stub:  # no message: ours, translated
        path = stub.kubeconfig(tmp_path / "config")
        doc = cli("svc", "-A", "--kubeconfig", str(path), "-o", "json", "--lang", "zh").json()
    assert "forbidden: 无法列出 services" in {s["reason"] for s in doc["skipped"]}


def test_probe_plan_in_chinese() -> None:
    """Notes and test labels are made when the plan is, in the run's language; codes and addresses unchanged."""
    from kubectl_tke_net.probe.plan import make_plan
    from tests.test_probe import ctx_for

    i18n.set_language("zh")
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", requested_nodes=["10.0.1.11"])
    assert plan.notes == ("要确认 CLB 回环（TKE124），需要分别从有后端和没有后端的节点探测；本次只有前一种节点",)
    whats = [t.what for t in plan.pods[0].tests]
    assert "端点 172.20.0.5:8080（web-a，位于 10.0.1.10）" in whats
    assert any(w.startswith("NodePort 10.0.1.11:30080（节点 10.0.1.11）") for w in whats)
    i18n.set_language("en")
    plan = make_plan(ctx_for(), "service", "web", "probe", run_id="r1", requested_nodes=["10.0.1.11"])
    assert "endpoint 172.20.0.5:8080 (web-a on 10.0.1.10)" in [t.what for t in plan.pods[0].tests]


def test_security_group_problem_plural_in_both_languages() -> None:
    from kubectl_tke_net import tke

    assert tke.security_group_problem("sg-bad, x") == "'sg-bad', 'x' are not security group IDs"
    i18n.set_language("zh")
    assert tke.security_group_problem("sg-bad, x") == "'sg-bad', 'x' 不是安全组 ID"
    six = ",".join(f"sg-0000000{i}" for i in range(6))
    assert tke.security_group_problem(six) == "指定了 6 个安全组，最多只允许 5 个"


def test_every_command_and_flag_has_chinese_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """Walks the parsers themselves, so a flag added without _() (or a help argparse never looks up, like the
    version action's) is caught whatever the help layout."""
    import argparse
    import re

    from kubectl_tke_net import cli, i18n

    monkeypatch.setattr(argparse, "_", i18n._)
    monkeypatch.setattr(argparse, "ngettext", i18n.ngettext)
    i18n.set_language("zh")
    try:
        top = cli.build_parser()
        subs = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
        parsers = [top, *(p for s in subs for p in s.choices.values())]
        english = []
        for parser in parsers:
            actions = [*parser._actions, *(c for s in subs if parser is top for c in s._choices_actions)]
            texts = [(str(a.option_strings or a.dest), a.help) for a in actions if a.help != argparse.SUPPRESS]
            texts.append(("description", parser.description))
            english += [
                (parser.prog, what, text)
                for what, text in texts
                if text and not re.search("[\u4e00-\u9fff]", text) and not re.fullmatch(r"[a-z-]+(, [a-z-]+)+", text)
            ]  # a list of names (fix ACTION)
        assert english == []
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize("encoding", ["ascii", "cp1252", "latin-1"])
def test_chinese_output_survives_a_non_utf8_stdout(encoding: str) -> None:
    """A Windows pipe (cp1252) or PYTHONIOENCODING=ascii: the plugin writes UTF-8, as kubectl does."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONIOENCODING=encoding, NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "kubectl_tke_net", "loopback", "-A", "--snapshot", fixture("loopback"), "--lang", "zh"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr.decode("utf-8", "replace")
    assert "结论" in done.stdout.decode("utf-8") and done.stderr == b""


def test_an_abbreviated_lang_flag_is_refused_not_ignored(cli: CLI) -> None:
    """`--lan zh` used to be taken by argparse for --lang after the language was already chosen (English)."""
    run = cli("checks", "TKE101", "--lan", "zh")
    assert (run.status, run.out) == (2, "") and "--lan" in run.err
