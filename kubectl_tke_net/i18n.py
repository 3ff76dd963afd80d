"""Translations: gettext catalogues compiled from kubectl_tke_net/locale/*/LC_MESSAGES/*.po.

Every user-visible string goes through `_()` (or `N_()` where it is defined before the language is known and
translated where it is used; `ngettext()` where English needs a plural). Codes, JSON/YAML keys, flag names and
enum values are never translated. Only the standard library is imported here: start-up must stay cheap. The
`.mo` files are compiled at build time (`make install`, the wheel's build_py, packaging/build_binary.py) by
tools/i18n_catalog.py (in the repository, not installed), which alone needs Babel.
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

DOMAIN = "kubectl-tke-net"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "zh")
# The locale variables POSIX consults for messages, strongest first; the first one set (non-empty) decides.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


class _State:
    """The run's language and its catalogue (one per process: the CLI sets it once, first thing in main)."""

    language = "en"
    translation: _gettext.NullTranslations = _gettext.NullTranslations()


class CatalogMissing(Exception):
    """The compiled catalogue of a language is not installed (a broken build: .mo files are made at build time)."""


def language_from_env(environ: Mapping[str, str] | None = None) -> str:
    """SPEC §2: `zh` when the first set of LC_ALL, LC_MESSAGES, LANG is `zh` or `zh_*`, else `en`."""
    env = os.environ if environ is None else environ
    for name in LOCALE_VARIABLES:
        value = env.get(name, "")
        if value:
            code = value.replace("-", "_").replace(".", "_").replace("@", "_").split("_")[0].lower()
            return "zh" if code == "zh" else "en"
    return "en"


def language_from_argv(argv: Sequence[str]) -> str | None:
    """The value of the last valid `--lang X` / `--lang=X` before `--`; an invalid one is left to argparse."""
    found = None
    for i, word in enumerate(argv):
        if word == "--":
            break
        value = None
        if word == "--lang" and i + 1 < len(argv):
            value = argv[i + 1]
        elif word.startswith("--lang="):
            value = word.split("=", 1)[1]
        if value in LANGUAGES:
            found = value
    return found


def resolve(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The language of a run: `--lang` beats the environment."""
    return language_from_argv(argv) or language_from_env(environ)


def set_language(lang: str) -> None:
    """Switch every later `_()` call to `lang` (`en` or `zh`); CatalogMissing when its .mo is not installed."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    if lang == "en":
        translation = _gettext.NullTranslations()
    else:
        try:
            translation = _gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])
        except FileNotFoundError as exc:
            raise CatalogMissing(
                f"the {lang} message catalogue is not installed ({LOCALE_DIR}/{lang}/LC_MESSAGES/{DOMAIN}.mo); "
                "reinstall kubectl tke-net, or from a source tree run `make install`"
            ) from exc
    _State.language, _State.translation = lang, translation


def language() -> str:
    return _State.language


def _(message: str) -> str:
    return _State.translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _State.translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message
