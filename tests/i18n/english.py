"""Find English left on a page: the interface texts a user sees (text, titles, labels,
placeholders, confirmations) compared with the msgids of the catalogues.

A msgid counts when its translation in the language differs from it (an empty translation
differs: it would show English); "Team", "Pipeline" or "Lead" that a language keeps are left
out. A msgid is cut at its placeholders and tags into fragments. A fragment of two or more
words is looked for anywhere, at word boundaries; a single word only as a whole text ("Won"
on a button, not "won" in a sentence nor "API" in "API-Token"). A fragment a translation of
the language also uses ("Deal" in German) is left out, and so is a text that is the user's
data (a stage named "Proposal sent" in a demo seeded in English).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

SPLIT = re.compile(
    r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%|%[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{\w+\}|<[^<>]+>"
)
WORD = re.compile(r"[^\W\d_]+")
EDGES = " \t\n.,:;!?…·→←+✓–—-()[]\"'“”„«»/|⚑%"
SHOWN_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "data-confirm", "label"}
HIDDEN_ELEMENTS = {"script", "style"}


def normal(text: str) -> str:
    return " ".join(text.split())


def visible_texts(html: str) -> list[str]:
    """The texts a user sees or hears: text nodes outside scripts and styles, and the
    attributes that are shown (title, aria-label, placeholder, alt, data-confirm, button
    values)."""
    parser = _Texts()
    parser.feed(html)
    parser.close()
    return [text for text in (normal(t) for t in parser.texts) if text]


class _Texts(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN_ELEMENTS:
            self.hidden += 1
        attributes = dict(attrs)
        for name, value in attrs:
            if value and name in SHOWN_ATTRIBUTES:
                self.texts.append(value)
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            self.texts.append(attributes.get("value") or "")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in HIDDEN_ELEMENTS:
            self.hidden -= 1

    def handle_endtag(self, tag):
        if tag in HIDDEN_ELEMENTS and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.texts.append(data)


def fragments(msgid: str) -> list[str]:
    parts = (normal(part).strip(EDGES) for part in SPLIT.split(msgid))
    return [part for part in parts if WORD.search(part) and len(part) >= 3]


@dataclass
class EnglishFinder:
    """The English msgids of one language, ready to be looked for in a page's texts."""

    language: str
    data: set[str] = field(default_factory=set)  # the user's own texts on the pages
    phrases: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    words: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_catalogues(cls, language: str, locale: Path, data: set[str]) -> EnglishFinder:
        finder = cls(language=language, data={normal(d) for d in data if d and d.strip()})
        pairs = []
        for domain in ("django", "djangojs"):
            path = locale / language / "LC_MESSAGES" / f"{domain}.po"
            if not path.exists():
                continue
            with path.open("rb") as source:
                catalog = read_po(source, locale=language)
            for message in catalog:
                if not message.id:
                    continue
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                for index, msgid in enumerate(ids):
                    string = strings[min(index, len(strings) - 1)] if strings else ""
                    pairs.append((msgid, string if not message.fuzzy else ""))
        translated = "\n".join(normal(string) for _, string in pairs if string)
        for msgid, string in pairs:
            if normal(string) == normal(msgid):
                continue  # the language keeps the English word ("Team", "Pipeline")
            for fragment in fragments(msgid):
                if fragment in translated and re.search(
                    rf"(?<!\w){re.escape(fragment)}(?!\w)", translated
                ):
                    continue  # a translation uses it too ("Deal" in German)
                if " " in fragment:
                    first = WORD.search(fragment).group(0)
                    finder.phrases[first].append((fragment, msgid))
                else:
                    finder.words[fragment] = msgid
        return finder

    def english_in(self, texts: list[str]) -> list[tuple[str, str]]:
        """(msgid, the text it was found in) for each English msgid in the texts."""
        found = []
        for text in texts:
            if text in self.data:
                continue
            bare = text.strip(EDGES)
            if bare in self.words and bare not in self.data:
                found.append((self.words[bare], text))
                continue
            for word in set(WORD.findall(text)):
                for fragment, msgid in self.phrases.get(word, ()):
                    if fragment in text and self._english_at(fragment, text):
                        found.append((msgid, text))
        return found

    def _english_at(self, fragment: str, text: str) -> bool:
        pattern = re.compile(rf"(?<!\w){re.escape(fragment)}(?!\w)")
        if not pattern.search(text):
            return False
        # Not English if every occurrence is inside the user's data shown in this text.
        rest = text
        for value in sorted(
            (d for d in self.data if fragment in d and d in text), key=len, reverse=True
        ):
            rest = rest.replace(value, "\x00")
        return bool(pattern.search(rest))
