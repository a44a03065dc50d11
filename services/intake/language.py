"""Which of the desk's languages a customer wrote in, when their message does not say.

An e-mail rarely carries `Content-Language`; answering an English message in Dutch because
of it is a failure the customer notices at once. Lingua (lingua-language-detector) is
restricted to the desk's languages and answers only when it is sure; short texts are not
judged at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lingua import Language, LanguageDetectorBuilder

LANGUAGES = {"nl": Language.DUTCH, "en": Language.ENGLISH}
MIN_WORDS = 4
# How much likelier the first language must be than the second before it counts.
MIN_RELATIVE_DISTANCE = 0.2


def detector(languages: tuple[str, ...] = ("nl", "en")) -> Callable[[str], str | None]:
    """A function from text to one of `languages`, or None when unsure. The models are
    loaded once, here, not on the first message."""
    by_language = {LANGUAGES[code]: code for code in languages}
    built = (
        LanguageDetectorBuilder.from_languages(*by_language)
        .with_minimum_relative_distance(MIN_RELATIVE_DISTANCE)
        .with_preloaded_language_models()
        .build()
    )

    def detect(text: str) -> str | None:
        if len(re.findall(r"[^\W\d_]{2,}", text)) < MIN_WORDS:
            return None
        found = built.detect_language_of(text[:2000])
        return by_language.get(found) if found is not None else None

    return detect
