import pytest

from services.intake.language import detector

DETECT = detector()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("My printer has been broken since this morning, can you help me?", "en"),
        ("Mijn printer is sinds vanochtend kapot, kunt u mij helpen?", "nl"),
        ("Hello, I cannot sign in to my account anymore.", "en"),
        ("Goedemiddag, ik kan niet meer inloggen op mijn account.", "nl"),
        # too short to judge: the desk's default decides
        ("Printer", None),
        ("LKT-000123", None),
        ("ok thanks", None),
    ],
)
def test_the_language_is_detected_only_when_it_is_clear(text, language):
    assert DETECT(text) == language
