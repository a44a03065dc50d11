"""People's words for the contract's keys and the desk file's (services/common/labels.py)."""

from pathlib import Path

import yaml

from services.common.labels import CHANNEL_NAMES, CUSTOMER_STATUSES, DESK_STATUSES, Labels
from services.common.vocabulary import CHANNELS, LANGUAGES, STATUSES

DESK = yaml.safe_load((Path(__file__).parents[2] / "config" / "loket.yaml").read_text())


def test_every_status_and_channel_has_words_in_every_language():
    for language in LANGUAGES:
        assert set(DESK_STATUSES[language]) == set(STATUSES)
        assert set(CUSTOMER_STATUSES[language]) == set(STATUSES)
        assert set(CHANNEL_NAMES[language]) == set(CHANNELS)


def test_the_desk_files_keys_read_as_its_words():
    labels = Labels.of(DESK)
    assert labels.queue("it_backoffice", "nl") == "IT-backoffice"
    assert labels.category("laptop_broken", "en") == "Broken laptop"
    assert labels.field("laptop_broken", "asset_tag", "nl") == "Inventarisnummer"
    assert labels.value("laptop_broken", "symptom", "no_power", "en") == "Does not start"
    assert labels.value("password_reset", "urgency", "high", "nl") == "Ik kan niet werken"
    assert labels.value("room_temperature", "temperature", 19, "en") == "19"  # as typed
    assert labels.status("in_progress", "nl") == "In behandeling"
    assert labels.channel("walk_in", "en") == "Walk-in counter"
    assert labels.priority(2, "en") == "2 (high)"
    assert labels.priority_meaning(1, "en") == "first response within 15 min, resolved within 4 h"
    assert (
        labels.priority_meaning(4, "nl") == "eerste reactie binnen 8 uur, opgelost binnen 2 dagen"
    )


def test_a_key_the_desk_file_no_longer_names_is_shown_as_near_words_as_it_has():
    labels = Labels.of(DESK)
    assert labels.queue("gone", "nl") == "gone"  # nothing better is known
    # A field of a category since removed: the label another category gives that name.
    assert labels.field("retired", "location", "en") == "Location"
    assert labels.field("retired", "serial_number", "en") == "Serial number"
