"""The machinery of `manage.py loadtest`: browser-like sessions that act on one board over
real HTTP, the plan of what each session does, and the classification and statistics of what
came back. Independent of how the server was started, so a test can point it at
`live_server`.

A session is what one browser tab does: it signs in through the login form, reads the board,
and sends the requests board.js and the pages send (htmx headers, the CSRF token from the
cookie, the same form fields), reading card versions from the markup it was given. A refused
request (409 "someone else changed it", 4xx) is an expected outcome and counted apart; a 5xx or
a dropped connection is an error.
"""

from __future__ import annotations

import http.client
import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from django.urls import reverse

from crm.devtools.bench_http import HttpSession, percentile

# --- the plan -------------------------------------------------------------------------------

# What a session does, and how often (relative weights). `reopen` and `resume` undo an
# earlier `won`/`lost` and `pause` of the same session, so the board does not drain.
WEIGHTS = {
    "drag": 6,
    "reorder": 2,
    "edit": 2,
    "quick add": 2,
    "won": 1,
    "lost": 1,
    "reopen": 2,
    "pause": 1,
    "resume": 1,
    "complete step": 2,
    "review": 1,
}
CLOSING = ("won", "lost")


def plan_actions(count: int, rng: random.Random) -> list[str]:
    """`count` action kinds drawn by WEIGHTS, where a reopen only follows an unmatched won or
    lost and a resume only an unmatched pause."""
    kinds: list[str] = []
    closed = paused = 0
    for _ in range(count):
        allowed = {
            kind: weight
            for kind, weight in WEIGHTS.items()
            if (kind != "reopen" or closed) and (kind != "resume" or paused)
        }
        kind = rng.choices(list(allowed), weights=list(allowed.values()))[0]
        if kind in CLOSING:
            closed += 1
        elif kind == "reopen":
            closed -= 1
        elif kind == "pause":
            paused += 1
        elif kind == "resume":
            paused -= 1
        kinds.append(kind)
    return kinds


# --- outcomes and statistics ----------------------------------------------------------------

OK, REFUSED, ERROR = "ok", "refused", "error"
READS = ("login", "board", "deal page", "dialog")


def classify(status: int | None) -> str:
    """2xx/3xx: ok; 4xx (409 "try again", rule and permission refusals): refused, an expected
    answer; 5xx or no answer at all (None): an error."""
    if status is None or status >= 500:
        return ERROR
    if status >= 400:
        return REFUSED
    return OK


@dataclass
class Hit:
    kind: str
    status: int | None
    ms: float
    session: int = 0
    detail: str = ""

    @property
    def outcome(self) -> str:
        return classify(self.status)


@dataclass
class Row:
    kind: str
    count: int
    p50: float | None
    p95: float | None
    refused: int
    errors: int


def summarise(hits: list[Hit]) -> list[Row]:
    """One row per kind: writes in WEIGHTS order first, then the reads. Times of every
    answered request count (a 409 is an answer); connection errors have no time."""
    kinds = [k for k in WEIGHTS if any(h.kind == k for h in hits)]
    kinds += sorted({h.kind for h in hits} - set(kinds), key=lambda k: (k in READS, k))
    rows = []
    for kind in kinds:
        mine = [h for h in hits if h.kind == kind]
        times = [h.ms for h in mine if h.status is not None]
        rows.append(
            Row(
                kind=kind,
                count=len(mine),
                p50=round(statistics.median(times), 1) if times else None,
                p95=round(percentile(times, 95), 1) if times else None,
                refused=sum(h.outcome == REFUSED for h in mine),
                errors=sum(h.outcome == ERROR for h in mine),
            )
        )
    return rows


def format_table(rows: list[Row]) -> list[str]:
    header = f"{'kind':<14} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'refused':>8} {'errors':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        p50 = f"{r.p50:.1f}" if r.p50 is not None else "-"
        p95 = f"{r.p95:.1f}" if r.p95 is not None else "-"
        lines.append(f"{r.kind:<14} {r.count:>6} {p50:>8} {p95:>8} {r.refused:>8} {r.errors:>7}")
    return lines


# --- reading pages ----------------------------------------------------------------------------

_STAGE_CARDS = re.compile(r"^stage-(\d+)-cards$")


@dataclass
class Card:
    id: int
    version: int
    owner: str = ""  # the avatar's title: the owner's name, "" when unassigned
    step_done_url: str = ""


@dataclass
class Column:
    stage_id: int
    has_criteria: bool = False
    cards: list[Card] = field(default_factory=list)


class _CardParser(HTMLParser):
    """Cards (article.card) with their version, owner and next step, grouped by the column
    they sit in (div#stage-N-cards, on the board and in out-of-band fragments); cards
    outside any such div (a move's primary swap) are `loose`."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.columns: list[Column] = []
        self.loose: list[Card] = []
        self._column: Column | None = None
        self._card: Card | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        match = _STAGE_CARDS.match(a.get("id") or "")
        if tag == "div" and match:
            self._column = Column(int(match[1]), has_criteria="data-exit-criteria" in a)
            self.columns.append(self._column)
        elif tag == "article" and "card" in classes:
            deal_id = int((a.get("id") or "").removeprefix("deal-"))
            self._card = Card(id=deal_id, version=int(a["data-version"]))
            (self._column.cards if self._column else self.loose).append(self._card)
        elif self._card and tag == "span" and "avatar" in classes and not self._card.owner:
            if "avatar-small" not in classes and "avatar-empty" not in classes:
                self._card.owner = a.get("title") or ""
        elif self._card and tag == "div" and a.get("data-step"):
            # The board's script posts a next step's "done" here (static/js/board.js).
            self._card.step_done_url = reverse("activity-complete", args=[int(a["data-step"])])

    def handle_endtag(self, tag):
        if tag == "article":
            self._card = None


def parse_cards(html: str) -> tuple[list[Column], list[Card]]:
    parser = _CardParser()
    parser.feed(html)
    return parser.columns, parser.loose


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # checkboxes to tick
    options: dict[str, list[str]] = field(default_factory=dict)  # select name -> values

    def values(self, **changes) -> list[tuple[str, str]]:
        """The fields as the browser submits them, with `changes` replacing values."""
        kept = [(k, v) for k, v in self.fields if k not in changes]
        return kept + [(k, str(v)) for k, v in changes.items()]


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = Form(action=a.get("hx-post") or a.get("action") or "")
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or "disabled" in a or not a.get("name", "" if tag != "option" else "x"):
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio"):
                target = form.fields if "checked" in a else form.unchecked
                target.append((a["name"], a.get("value", "on")))
            else:
                form.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._select_value, self._first_option = a["name"], None, None
            form.options[a["name"]] = []
        elif tag == "option" and self._select:
            value = a.get("value", "")
            form.options[self._select].append(value)
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._select_value = value
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "select" and self._select and self._form:
            value = self._select_value if self._select_value is not None else self._first_option
            self._form.fields.append((self._select, value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea and self._form:
            self._form.fields.append((self._textarea, "".join(self._text)))
            self._textarea = None
        elif tag == "form":
            self._form = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def find_form(html: str, action_contains: str) -> Form | None:
    return next((f for f in parse_forms(html) if action_contains in f.action), None)


# --- a browser ------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int | None
    body: str
    location: str = ""
    retarget: str = ""  # HX-Retarget: a drop that landed where it was put answers its card only


class Browser(HttpSession):
    """One tab: a keep-alive connection with its own cookie jar (bench's HttpSession, whose
    fixed Cookie header is replaced by the jar)."""

    def __init__(self, port: int, *, timeout: float):
        super().__init__(port, session_key="")
        self.conn.timeout = timeout
        self.headers = {"Host": f"127.0.0.1:{port}"}
        self.cookies: dict[str, str] = {}

    def go(self, method: str, path: str, data=None, *, htmx: bool = False) -> Answer:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method == "POST":
            body = urlencode(data or [], doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")  # as hx-headers does
        elif data:
            path = f"{path}?{urlencode(data, doseq=True)}"
        if htmx:
            headers["HX-Request"] = "true"
            headers["Referer"] = f"http://127.0.0.1:{self.port}/"
        else:
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        response, raw = self.send(method, path, body=body, headers=headers)
        for header in response.msg.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Answer(
            response.status,
            raw.decode("utf-8", "replace"),
            response.getheader("Location") or "",
            response.getheader("HX-Retarget") or "",
        )


# --- a session ------------------------------------------------------------------------------

FILTERS = [("owner", "any"), ("q", "")]  # the board's filter form as board.js includes it
REFRESH_EVERY = 5  # actions between board reloads (besides after every refusal)


@dataclass
class SessionSpec:
    index: int
    username: str
    password: str
    owner_name: str  # how the board's avatars name this user


class Session:
    """One signed-in tab doing its planned actions on one board. Every request is recorded
    as a Hit; nothing raises out of `run` except a bug in this module."""

    def __init__(
        self,
        spec: SessionSpec,
        *,
        port: int,
        board_path: str,
        plan: list[str],
        rng: random.Random,
        deadline: float,
        record,
        timeout: float = 30.0,
    ):
        self.spec = spec
        self.port = port
        self.board_path = board_path
        self.plan = plan
        self.rng = rng
        self.deadline = deadline
        self.record = record
        self.timeout = timeout
        self.browser = Browser(port, timeout=timeout)
        self.columns: list[Column] = []
        self.closed: list[int] = []
        self.paused: list[int] = []
        self.stale = True
        self.done = 0
        self.added = 0

    # -- requests --

    def hit(self, kind: str, method: str, path: str, data=None, *, htmx=False) -> Answer:
        started = time.perf_counter()
        try:
            answer = self.browser.go(method, path, data, htmx=htmx)
        except (OSError, http.client.HTTPException) as error:
            self.browser.close()
            ms = (time.perf_counter() - started) * 1000
            self.record(Hit(kind, None, ms, self.spec.index, f"{type(error).__name__}: {error}"))
            return Answer(None, "")
        ms = (time.perf_counter() - started) * 1000
        detail = ""
        if classify(answer.status) != OK:
            detail = f"{method} {path} -> {answer.status}"
        self.record(Hit(kind, answer.status, ms, self.spec.index, detail))
        if classify(answer.status) != OK:
            self.stale = True  # as board.js does after a refused drop: look again
        return answer

    def login(self) -> bool:
        page = self.hit("login", "GET", "/accounts/login/")
        form = find_form(page.body, "/login/")
        if form is None:
            return False
        answer = self.hit(
            "login",
            "POST",
            form.action,
            form.values(username=self.spec.username, password=self.spec.password),
        )
        return answer.status == 302 and "sessionid" in self.browser.cookies

    def refresh(self) -> None:
        answer = self.hit("board", "GET", self.board_path)
        if answer.status == 200:
            self.columns, _loose = parse_cards(answer.body)
            self.stale = False

    def absorb(self, body: str, *, main: int | None = None) -> None:
        """Take what a fragment shows: its columns' cards replace ours; loose cards (a move's
        primary swap) are the cards of `main`."""
        columns, loose = parse_cards(body)
        by_id = {c.stage_id: c for c in self.columns}
        for column in columns:
            if column.stage_id in by_id:
                by_id[column.stage_id].cards = column.cards
        if main in by_id and loose:
            by_id[main].cards = loose

    # -- choosing --

    def mine(self, *, with_step: bool = False) -> list[tuple[int, Card]]:
        return [
            (i, card)
            for i, column in enumerate(self.columns)
            for card in column.cards
            if card.owner == self.spec.owner_name and (card.step_done_url or not with_step)
        ]

    def pick(self, **kwargs) -> tuple[int, Card] | None:
        cards = self.mine(**kwargs)
        return self.rng.choice(cards) if cards else None

    # -- the run --

    def run(self) -> None:
        try:
            if not self.login():
                return
            for kind in self.plan:
                if time.monotonic() > self.deadline:
                    break
                if self.stale or self.done % REFRESH_EVERY == 0:
                    self.refresh()
                self.act(kind)
                self.done += 1
        finally:
            self.browser.close()

    def act(self, kind: str) -> None:
        action = {
            "drag": self.drag,
            "reorder": self.reorder,
            "edit": self.edit,
            "quick add": self.quick_add,
            "won": self.won,
            "lost": self.lost,
            "reopen": self.reopen,
            "pause": self.pause,
            "resume": self.resume,
            "complete step": self.complete_step,
            "review": self.review,
        }[kind]
        if not action():
            # Nothing of ours to do it with (say, every card is closed): drag instead.
            if kind == "drag" or not self.drag():
                self.refresh()

    def _drop(self, kind: str, source: int, card: Card, target: int) -> bool:
        """Drop `card` from column `source` at a random place in column `target`, as board.js
        sends it: the cards above and below, the version, the loaded count, the filters. A
        forward drop out of a stage with exit criteria first opens the criteria dialog, whose
        boxes are ticked and submitted."""
        into = [c for c in self.columns[target].cards if c.id != card.id]
        if source == target and len(into) < 1:
            return False
        index = self.rng.randrange(len(into) + 1)
        if source == target:
            current = self.columns[source].cards.index(card)
            choices = [i for i in range(len(into) + 1) if i != current]
            index = self.rng.choice(choices)
        stage_id = self.columns[target].stage_id
        values = [
            *FILTERS,
            ("stage", stage_id),
            ("version", card.version),
            ("after", into[index - 1].id if index > 0 else ""),
            ("before", into[index].id if index < len(into) else ""),
            ("loaded", len(into) + 1),
        ]
        move_url = f"/deals/{card.id}/move/"
        if target > source and any(c.has_criteria for c in self.columns[source:target]):
            dialog = self.hit("dialog", "GET", f"/deals/{card.id}/move-check/", values, htmx=True)
            form = find_form(dialog.body, move_url) if dialog.status == 200 else None
            if form is None:
                return True  # refused (recorded); the board is looked at again
            values = [*form.fields, *form.unchecked, *FILTERS]
        answer = self.hit(kind, "POST", move_url, values, htmx=True)
        if answer.status == 200:
            self.columns[source].cards.remove(card)
            if answer.retarget == f"#deal-{card.id}":
                # The card landed where it was dropped: the answer is that card (and the two
                # headers), so it takes the place the drop gave it among the cards we have.
                _columns, loose = parse_cards(answer.body)
                into.insert(index, loose[0] if loose else card)
                self.columns[target].cards = into
            else:
                self.absorb(answer.body, main=stage_id)
        return True

    def drag(self) -> bool:
        """A card of ours into a neighbouring column."""
        picked = self.pick()
        if picked is None:
            return False
        source, card = picked
        targets = [t for t in (source - 1, source + 1) if 0 <= t < len(self.columns)]
        return bool(targets) and self._drop("drag", source, card, self.rng.choice(targets))

    def reorder(self) -> bool:
        """A card of ours to another place in its column."""
        cards = [(i, c) for i, c in self.mine() if len(self.columns[i].cards) > 1]
        if not cards:
            return False
        source, card = self.rng.choice(cards)
        return self._drop("reorder", source, card, source)

    def _deal_form(self, deal_id: int, action: str) -> Form | None:
        page = self.hit("deal page", "GET", f"/deals/{deal_id}/")
        return find_form(page.body, f"/deals/{deal_id}/{action}/") if page.status == 200 else None

    def edit(self) -> bool:
        picked = self.pick()
        if picked is None:
            return False
        deal_id = picked[1].id
        form = self._deal_form(deal_id, "edit")
        if form is not None:
            value = dict(form.fields).get("value") or "0"
            try:
                value = (Decimal(value) + 100).quantize(Decimal("0.01"))
            except InvalidOperation:
                value = Decimal("1000.00")
            self.hit("edit", "POST", form.action, form.values(value=value))
            self.stale = True  # back on the board, it is loaded again
        return True

    def quick_add(self) -> bool:
        column = self.rng.choice(self.columns) if self.columns else None
        if column is None:
            return False
        pipeline = self.board_path.strip("/").split("/")[1]
        url = f"/pipelines/{pipeline}/stages/{column.stage_id}/deals/new/"
        dialog = self.hit("dialog", "GET", url, htmx=True)
        form = find_form(dialog.body, url) if dialog.status == 200 else None
        if form is not None:
            self.added += 1
            title = f"Load test {self.spec.username} {self.spec.index}-{self.added}"
            answer = self.hit(
                "quick add",
                "POST",
                form.action,
                # The first next step: what the form asks for (its date defaults to the
                # next working day).
                form.values(
                    title=title,
                    value="2500",
                    **{"step-subject": "Call to qualify"},
                    **dict(FILTERS),
                ),
                htmx=True,
            )
            if answer.status == 200:
                self.absorb(answer.body)
        return True

    def won(self) -> bool:
        picked = self.pick()
        if picked is None:
            return False
        source, card = picked
        values = [("version", card.version), ("from", "board"), *FILTERS]
        answer = self.hit("won", "POST", f"/deals/{card.id}/won/", values, htmx=True)
        if answer.status == 200:
            self.columns[source].cards.remove(card)
            self.closed.append(card.id)
            self.absorb(answer.body)
        return True

    def lost(self) -> bool:
        picked = self.pick()
        if picked is None:
            return False
        source, card = picked
        url = f"/deals/{card.id}/lost/"
        dialog = self.hit("dialog", "GET", url, [("from", "board")], htmx=True)
        form = find_form(dialog.body, url) if dialog.status == 200 else None
        if form is not None:
            reasons = [r for r in form.options.get("reason", []) if r]
            changes = {"note": "Load test", **dict(FILTERS)}
            if reasons:
                changes["reason"] = self.rng.choice(reasons)
            answer = self.hit("lost", "POST", form.action, form.values(**changes), htmx=True)
            if answer.status == 200:
                self.columns[source].cards.remove(card)
                self.closed.append(card.id)
                self.absorb(answer.body)
        return True

    def _undo(self, kind: str, pending: list[int], action: str) -> bool:
        if not pending:
            return False
        deal_id = pending.pop(0)
        form = self._deal_form(deal_id, action)
        if form is not None:
            self.hit(kind, "POST", form.action, form.fields)
            self.stale = True  # the card is back on the board
        return True

    def reopen(self) -> bool:
        return self._undo("reopen", self.closed, "reopen")

    def resume(self) -> bool:
        return self._undo("resume", self.paused, "resume")

    def pause(self) -> bool:
        picked = self.pick()
        if picked is None:
            return False
        deal_id = picked[1].id
        form = self._deal_form(deal_id, "pause")
        if form is not None:
            until = (date.today() + timedelta(days=30)).isoformat()
            answer = self.hit(
                "pause", "POST", form.action, form.values(reason="Load test", until=until)
            )
            if answer.status == 302:
                self.paused.append(deal_id)
                self.stale = True
        return True

    def complete_step(self) -> bool:
        """The card's ✓, then the "What's the next step?" form it opens, filled in."""
        picked = self.pick(with_step=True)
        if picked is None:
            return False
        card = picked[1]
        values = [("from", "board"), *FILTERS]
        answer = self.hit("complete step", "POST", card.step_done_url, values, htmx=True)
        if answer.status != 200:
            return True
        self.absorb(answer.body)
        form = find_form(answer.body, "/activities/new/")
        if form is not None:
            due = (date.today() + timedelta(days=self.rng.randint(1, 14))).isoformat()
            planned = self.hit(
                "plan step",
                "POST",
                form.action,
                form.values(subject="Follow-up call", due_date=due, **dict(FILTERS)),
                htmx=True,
            )
            if planned.status == 200:
                self.absorb(planned.body)
        return True

    def review(self) -> bool:
        """The weekly review's "Close date: +1 week" on a row of ours."""
        picked = self.pick()
        if picked is None:
            return False
        url = f"/review/deals/{picked[1].id}/close-date/"
        dialog = self.hit("dialog", "GET", url, [("section", "closing-soon")], htmx=True)
        form = find_form(dialog.body, url) if dialog.status == 200 else None
        if form is not None:
            self.hit("review", "POST", form.action, form.values(push="week"), htmx=True)
            self.stale = True  # back on the board, it is loaded again
        return True


# --- running many -----------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.hits: list[Hit] = []

    def __call__(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)


def run_sessions(
    specs: list[SessionSpec],
    *,
    port: int,
    board_path: str,
    actions: int,
    seconds: float,
    seed: int = 12,
    timeout: float = 30.0,
) -> tuple[list[Hit], float]:
    """Every session in a thread of its own, all started together; returns the hits and the
    wall time. Bounded: each session stops after its plan or at the deadline, and each
    request gives up after `timeout` seconds."""
    recorder = Recorder()
    deadline = time.monotonic() + seconds
    sessions = []
    for spec in specs:
        rng = random.Random(seed * 1000 + spec.index)
        sessions.append(
            Session(
                spec,
                port=port,
                board_path=board_path,
                plan=plan_actions(actions, rng),
                rng=rng,
                deadline=deadline,
                record=recorder,
                timeout=timeout,
            )
        )
    threads = [threading.Thread(target=s.run, name=f"session-{s.spec.index}") for s in sessions]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 5)
    return recorder.hits, time.perf_counter() - started


def writes(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.kind not in READS]
