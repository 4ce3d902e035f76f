"""Keys that tell when two companies are probably the same firm.

`company_name_key` folds a company name to what is left when case, accents, punctuation,
spacing and the legal form are taken away ("ACME A/S", "Acme ApS" and "acme" all give
"acme"); `web_host_key` reduces a web domain or a website address to its host without
"www." ("https://www.Acme.dk/om-os" gives "acme.dk"). Both are pure functions: the duplicate
check (`crm.selectors.company_duplicates_for_user`) compares them, nothing stores them.
"""

from __future__ import annotations

import re
import string
import unicodedata
from urllib.parse import urlsplit

# Legal forms written as one word once their punctuation is gone ("A/S" -> "as",
# "G.m.b.H." -> "gmbh", "S.A." -> "sa"), in the languages of the firms that use the CRM
# and the ones they trade with most.
LEGAL_FORMS = frozenset(
    {
        # Nordic
        "as",  # Danish A/S, Norwegian AS
        "asa",
        "aps",
        "is",  # I/S
        "ks",  # K/S
        "ps",  # P/S
        "amba",  # A.m.b.A.
        "smba",  # S.m.b.A.
        "ivs",
        "ab",
        "publ",  # AB (publ)
        "hb",
        "kb",
        "oy",
        "oyj",
        "ehf",
        "hf",
        "da",  # Norwegian DA
        "ans",  # Norwegian ANS
        "enk",
        # German-speaking
        "gmbh",
        "ag",
        "kg",
        "ohg",
        "ug",
        "eg",
        "gbr",
        "kgaa",
        "mbh",
        "ev",  # e.V.
        # English-speaking
        "ltd",
        "limited",
        "plc",
        "llc",
        "llp",
        "lp",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        # Elsewhere in Europe
        "bv",
        "nv",
        "sa",
        "sas",
        "sarl",
        "spa",
        "srl",
        "sl",
        "se",  # Societas Europaea
        "sp",  # Polish sp. z o.o. ("sp", "z", "oo")
        "zoo",
        "oo",
    }
)
# Written before the name in some countries ("AB Volvo", "Oy Karl Fazer Ab"); the rest only
# count at the end, where they cannot be mistaken for a word of the name ("EG Holding").
LEADING_FORMS = frozenset({"ab", "as", "oy", "oyj"})
# Left dangling once a legal form is gone ("Smith & Co" -> "smith", "sp. z o.o." -> "").
CONNECTORS = frozenset({"and", "og", "och", "und", "z"})

_TRAILING = LEGAL_FORMS | CONNECTORS

# Characters that separate words even without a space ("Acme,Inc", "Acme(Nordic)").
_SEPARATORS = re.compile(r"[\s,;:()\[\]{}&+|]+")


# ASCII punctuation and symbols, dropped in one C-level pass (most names are plain ASCII;
# the duplicate check folds every name of a team, so this is the hot path).
_ASCII_DROP = str.maketrans("", "", string.punctuation)


def _fold(text: str) -> str:
    """Casefolded, compatibility-normalised, without accents ("Müller" -> "muller")."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _drop_punctuation(word: str) -> str:
    if word.isascii():
        return word.translate(_ASCII_DROP)
    return "".join(ch for ch in word if unicodedata.category(ch)[0] not in "PS")


def company_name_key(name: str) -> str:
    """The name folded for comparison: casefolded, without accents, punctuation, spaces and
    the legal form at either end ("Acme Nordic A/S" -> "acmenordic", "AB Volvo" -> "volvo").

    A name that is nothing but a legal form keeps it ("ASA" -> "asa"); a name without any
    letters or digits gives "" (which matches nothing).
    """
    words = [_drop_punctuation(w) for w in _SEPARATORS.split(_fold(name))]
    words = [w for w in words if w]
    core = list(words)
    while core and core[-1] in _TRAILING:
        core.pop()
    while core and core[0] in LEADING_FORMS:
        core.pop(0)
    return "".join(core or words)


def web_host_key(value: str) -> str:
    """The host of a web domain or website address, lowercased, without "www." and without
    a trailing dot; "" when there is none. Never raises: stored values that predate
    validation are compared as well as they can be."""
    raw = (value or "").strip()
    if not raw:
        return ""
    if raw.isascii() and not any(ch in raw for ch in ":/?#@[]"):
        host = raw.lower().rstrip(".")  # a plain domain, as the form stores it
        return host[4:] if host.startswith("www.") else host
    try:
        host = urlsplit(raw if "://" in raw else f"//{raw}").hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host


# Mail services anyone can sign up to: their domain says nothing about the sender's firm, so a
# website lead from one is never matched to (or filed as) a company by its e-mail domain.
FREE_MAIL_DOMAINS = frozenset(
    {
        # International
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.net",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "fastmail.com",
        "tutanota.com",
        "hey.com",
        # Nordic
        "hotmail.dk",
        "live.dk",
        "outlook.dk",
        "jubii.dk",
        "mail.dk",
        "ofir.dk",
        "stofanet.dk",
        "hotmail.no",
        "live.no",
        "online.no",
        "hotmail.se",
        "live.se",
        "outlook.se",
        "telia.com",
        "spray.se",
        "bredband.net",
        # German-speaking
        "gmx.de",
        "gmx.at",
        "gmx.ch",
        "web.de",
        "t-online.de",
        "freenet.de",
        "hotmail.de",
        "outlook.de",
        "yahoo.de",
        "posteo.de",
        "mailbox.org",
        "bluewin.ch",
    }
)


def email_domain(email: str) -> str:
    """The domain of an e-mail address, lowercased, without "www." ("" when there is none)."""
    _, at, domain = (email or "").strip().rpartition("@")
    return web_host_key(domain) if at else ""


def is_free_mail(domain: str) -> bool:
    """Whether a domain (as `email_domain` gives it) belongs to a free mail service."""
    return domain in FREE_MAIL_DOMAINS
