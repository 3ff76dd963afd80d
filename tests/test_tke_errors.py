"""The TKE controllers' error-code catalogue: lookups per kind, meanings in both languages, codes found in events
and explained in the run's language, and `checks E4009`."""

from __future__ import annotations

import re

import pytest

from kubectl_tke_net import i18n, tke_errors
from kubectl_tke_net.checks.service import explain_codes
from tests.conftest import CLI


def test_every_code_has_a_meaning_and_a_fix_in_both_languages_and_a_source() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for (kind, code), row in tke_errors.CATALOGUE.items():
        assert (row.kind, row.code) == (kind, code) and kind in (tke_errors.SERVICE, tke_errors.INGRESS)
        assert tke_errors.CODE.fullmatch(code), code
        for en, zh in (row.meaning, row.fix):
            assert en and zh and not han.search(en) and han.search(zh), (kind, code, en, zh)
        assert row.source in tke_errors.SOURCES


def test_no_row_is_defined_twice() -> None:
    rows = [*tke_errors._SERVICE, *tke_errors._INGRESS_S1, *tke_errors._INGRESS_S2, *tke_errors._INGRESS_S4]
    assert len(rows) == len(tke_errors.CATALOGUE)


def test_the_same_number_means_different_things_per_kind() -> None:
    service = tke_errors.lookup("Service", "E4009")
    ingress = tke_errors.lookup("Ingress", "e4009")
    assert service is not None and "arrears" in service.meaning[0]
    assert ingress is not None and "secretName" in ingress.meaning[0]
    assert [r.kind for r in tke_errors.entries("E4005")] == ["Service", "Ingress"]
    assert tke_errors.lookup("Service", "E4041") is None  # an Ingress code only
    assert tke_errors.lookup("Pod", "E4009") is None


def test_codes_are_found_as_words_in_event_texts() -> None:
    text = 'E4041 Service Not Found; SecretEmptyError=IngressErrorCode{Code:"E4009"} E4041 xE4010 E40100 W1000'
    assert tke_errors.codes_in(text) == ["E4041", "E4009", "W1000"]
    assert tke_errors.is_code("w1002") and not tke_errors.is_code("TKE109") and not tke_errors.is_code("E40")


def test_explained_in_the_run_language_unknown_codes_left_alone() -> None:
    assert explain_codes("Ingress", "E4010 Secret Not Found").startswith(" (E4010 means the TLS Secret does not exist")
    assert explain_codes("Ingress", "E9999 new") == ""
    assert explain_codes("Service", "no code here") == ""
    i18n.set_language("zh")
    try:
        assert "账号欠费" in explain_codes("Service", "E4009 arrears")
    finally:
        i18n.set_language("en")


def test_checks_prints_an_error_code_for_each_kind(cli: CLI) -> None:
    run = cli("checks", "e4009")
    assert run.status == 0
    assert run.out.splitlines()[0] == "E4009 (Service): the account is in arrears"
    assert "E4009 (Ingress): a spec.tls entry has no secretName" in run.out
    assert "source: https://cloud.tencent.com/document/product/457/81004" in run.out
    doc = cli("checks", "E4041", "-o", "json").json()
    assert [e["kind"] for e in doc["entries"]] == ["Ingress"]


@pytest.mark.parametrize("code", ["E4999", "W9999"])
def test_an_unknown_error_code_is_a_usage_error(cli: CLI, code: str) -> None:
    run = cli("checks", code)
    assert run.status == 2 and "unknown TKE controller error code" in run.err


def test_select_takes_only_tke_codes(cli: CLI) -> None:
    from tests.conftest import fixture

    run = cli("svc", "-A", "--snapshot", fixture("services"), "--select", "E4009")
    assert run.status == 2 and "unknown check code" in run.err


def test_checks_prints_an_error_code_in_chinese(cli: CLI) -> None:
    run = cli("checks", "E4009", "--lang", "zh")
    assert run.out.splitlines()[:2] == ["E4009（Service）：账号欠费", "  处理：为账号充值"]
