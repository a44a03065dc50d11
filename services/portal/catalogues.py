"""The portal's gettext catalogues, read with Babel when the portal starts.

English is the source language: a message's English text is its `msgid`. Every other
language is a directory under `translations/` holding `LC_MESSAGES/messages.po`, as
`pybabel init` makes it. The `.po` files are read as they are (no compiled `.mo` to build
and keep in step); a message a catalogue lacks, or holds only as fuzzy, is shown in
English, and `missing()` is what the tests use to refuse such a catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).parent / "translations"
SOURCE_LANGUAGE = "en"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def N_(message: str) -> str:
    """Marks `message` for extraction (Babel's `-k N_`); translated where it is shown."""
    return message


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def catalogues(directory: Path = TRANSLATIONS) -> dict[str, Catalog]:
    """Every language's catalogue, by language code."""
    return {
        po.parent.parent.name: read_catalogue(po)
        for po in sorted(directory.glob("*/LC_MESSAGES/messages.po"))
    }


def translate(catalogue: Catalog, message: str) -> str:
    entry = catalogue.get(message)
    if entry is None or not entry.string or entry.fuzzy:
        return message
    return str(entry.string)


def translated_tables(messages: dict[str, str]) -> dict[str, dict[str, str]]:
    """Per language, each key's message in that language."""
    tables = {SOURCE_LANGUAGE: dict(messages)}
    for language, catalogue in catalogues().items():
        tables[language] = {key: translate(catalogue, text) for key, text in messages.items()}
    return tables


def missing(template: Catalog, catalogue: Catalog) -> list[str]:
    """What keeps `catalogue` from being complete for `template` (the `.pot`): each message
    absent, untranslated, fuzzy, or whose placeholders differ from the English."""
    problems = []
    for wanted in template:
        if not wanted.id:
            continue  # the header
        entry = catalogue.get(wanted.id, wanted.context)
        if entry is None:
            problems.append(f"missing: {wanted.id!r}")
        elif not entry.string:
            problems.append(f"not translated: {wanted.id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {wanted.id!r}")
        elif sorted(PLACEHOLDER.findall(str(entry.string))) != sorted(
            PLACEHOLDER.findall(str(wanted.id))
        ):
            problems.append(f"placeholders differ: {wanted.id!r} -> {entry.string!r}")
    return problems


def language_name(language: str) -> str:
    """A language's name in that language ("Nederlands", "English"): what the switch to it
    says, whichever language the page is in."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]
