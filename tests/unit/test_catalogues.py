"""The portal's gettext catalogues: the template holds what the code marks, and every
language's catalogue translates all of it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from services.portal import catalogues
from services.portal.texts import CONSOLE_MESSAGES, DESK_TEXTS, PORTAL_MESSAGES, TEXTS

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = catalogues.TRANSLATIONS / "messages.pot"


def _extracted() -> set[str]:
    """The messages Babel finds in the code, as `make messages` extracts them."""
    with (REPO / "services" / "portal" / "babel.cfg").open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found = extract_from_dir(
        str(REPO), method_map, options_map, keywords={"N_": None}, comment_tags=()
    )
    return {message for _, _, message, _, _ in found}


def test_the_template_holds_exactly_the_messages_the_code_marks():
    template = {m.id for m in catalogues.read_catalogue(TEMPLATE) if m.id}
    extracted = _extracted()
    assert extracted == set(PORTAL_MESSAGES.values()) | set(CONSOLE_MESSAGES.values())
    assert extracted - template == set(), "new messages: run `make messages`"
    assert template - extracted == set(), "messages no longer used: run `make messages`"


def test_every_language_translates_every_message():
    template = catalogues.read_catalogue(TEMPLATE)
    languages = catalogues.catalogues()
    assert "nl" in languages
    for language, catalogue in languages.items():
        assert catalogues.missing(template, catalogue) == [], language
        assert not [m.id for m in catalogue.obsolete.values()], f"{language}: obsolete entries"
        assert set(TEXTS[language]) == set(PORTAL_MESSAGES)
        assert set(DESK_TEXTS[language]) == set(CONSOLE_MESSAGES)


def test_a_catalogue_lacking_a_message_is_refused(tmp_path):
    template = catalogues.read_catalogue(TEMPLATE)
    dutch = catalogues.read_catalogue(catalogues.TRANSLATIONS / "nl/LC_MESSAGES/messages.po")
    gone, doubtful, broken = (
        CONSOLE_MESSAGES["transfer"],
        PORTAL_MESSAGES["send"],
        PORTAL_MESSAGES["track_title"],
    )
    dutch.delete(gone)
    dutch[doubtful].flags.add("fuzzy")
    dutch[broken].string = "Uw verzoek {kenmerk}"
    assert sorted(catalogues.missing(template, dutch)) == sorted(
        [
            f"missing: {gone!r}",
            f"fuzzy: {doubtful!r}",
            f"placeholders differ: {broken!r} -> 'Uw verzoek {{kenmerk}}'",
        ]
    )
    # Shown meanwhile: the English, never a key or an empty line.
    assert catalogues.translate(dutch, gone) == gone
    assert catalogues.translate(dutch, doubtful) == doubtful


def test_a_language_is_named_in_its_own_words():
    assert catalogues.language_name("nl") == "Nederlands"
    assert catalogues.language_name("en") == "English"
    assert catalogues.language_name("de") == "Deutsch"
