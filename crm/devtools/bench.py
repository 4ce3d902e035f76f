"""`manage.py bench`: the board, the move, the manager pages, the flag scan and the weekly
snapshot timed against PostgreSQL through gunicorn, beside their targets
(docs/performance.md)."""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.urls import reverse

from crm.devtools import bench_board, bench_pages, bench_server
from crm.devtools.bench_fixtures import BenchFixture, build_demo_board
from crm.devtools.bench_http import (
    CSRF_TOKEN,
    WARMUP_REQUESTS,
    HttpSession,
    first_lines,
    timed_gets,
    timing_summary,
)
from crm.devtools.bench_scan import ScanBench, scan_lines
from pipeline.models import Deal, DealCriterionCheck, DealStatus, ExitCriterion

# docs/performance.md targets.
BOARD_P50_TARGET_MS = {10_000: 50.0, 100_000: 80.0}


MAX_QUERIES = 12


MOVE_P50_TARGET_MS = 15.0


# The board within this many times its SQL floor, its p95 within this many times its p50,
# under this many bytes of HTML per card (docs/performance.md).
BOARD_FLOOR_RATIO_MAX = 3.0


BOARD_P95_RATIO_MAX = 1.5
# The board in Danish within this many times the same board in English (issue 18).
DANISH_RATIO_MAX = 1.05


BOARD_BYTES_PER_CARD_MAX = 1024


THROUGHPUT_CLIENTS = 8


SNAPSHOT_TARGET_S = 20.0


SNAPSHOT_TARGET_AT = 1_000_000


# Each size's board and drag are timed this many times (with their floors right after);
# the report gives the median round (docs/performance.md: the machines are shared and noisy).
ROUNDS = 3


def _load() -> str:
    """The machine's load averages (1, 5 and 15 minutes) while a round ran."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _median_round(rounds: list[dict]) -> dict | None:
    """The median of each figure over the rounds (the load as the middle round's)."""
    if not rounds:
        return None
    middle = dict(rounds[len(rounds) // 2])
    for key, value in rounds[0].items():
        if isinstance(value, int | float):
            middle[key] = round(statistics.median(r[key] for r in rounds), 3)
    return middle


def _board_target(size: int) -> float:
    return BOARD_P50_TARGET_MS[10_000] if size <= 10_000 else BOARD_P50_TARGET_MS[100_000]


class Bench:
    """The board, the move, the manager pages, the flag scan and the weekly snapshot, timed
    and judged against their targets; `stdout` and `stderr` are where the progress and the
    report go (a command's output wrappers)."""

    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def run(
        self,
        *,
        sizes: list[int],
        requests: int,
        json_path: Path,
        port: int,
        scan_sizes: list[int],
        forecast_size: int,
        review_size: int,
        skip_pages: bool,
        skip_snapshot: bool,
    ) -> None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        log_path = json_path.with_name("gunicorn.log")

        pages: list[dict] = []
        fixture = build_demo_board(sizes[0], log=self.stdout.write)
        session_key = bench_server.login_session(fixture.user)
        server = None
        results = []
        try:
            server = bench_server.start_gunicorn(port, log_path, log=self.stdout.write)
            http_session = HttpSession(port, session_key)
            board_path = reverse("board", args=[fixture.pipeline.pk])
            bench_server.wait_until_up(server, http_session, board_path, log_path)
            for size in sizes:
                fixture = build_demo_board(size, log=self.stdout.write)
                results.append(
                    self._measure(
                        size=size,
                        fixture=fixture,
                        http=http_session,
                        board_path=board_path,
                        requests=requests,
                        port=port,
                        session_key=session_key,
                    )
                )
            http_session.close()
            if not skip_pages:
                pages = self._measure_pages(
                    port=port,
                    requests=requests,
                    forecast_size=forecast_size,
                    review_size=review_size,
                )
        finally:
            if server is not None:
                bench_server.stop_gunicorn(server)
            bench_server.logout_session(session_key)
        scans = (
            ScanBench(stdout=self.stdout, stderr=self.stderr).measure(scan_sizes)
            if scan_sizes
            else []
        )
        snapshot = None
        if not skip_snapshot:
            snapshot = bench_pages.take_snapshot_now(log=self.stdout.write)
            snapshot["target"] = f"< {SNAPSHOT_TARGET_S:g} s at {SNAPSHOT_TARGET_AT} open deals"
            snapshot["pass"] = "error" not in snapshot and (
                snapshot["open_deals"] < SNAPSHOT_TARGET_AT
                or snapshot["seconds"] < SNAPSHOT_TARGET_S
            )
        self._report(
            results,
            scans,
            json_path=json_path,
            requests=requests,
            pages=pages,
            snapshot=snapshot,
        )
        bench_server.report_gunicorn_log(log_path, err=self.stderr.write)

    # --- one size -------------------------------------------------------------------------

    def _measure(
        self,
        *,
        size: int,
        fixture: BenchFixture,
        http: HttpSession,
        board_path: str,
        requests: int,
        port: int,
        session_key: str,
    ) -> dict:
        self.stdout.write(f"Measuring seed_demo's board plus {size} open deals ...")
        errors: list[str] = []

        # Board over HTTP, in rounds: each round times the page, then its floor (the page's
        # own statements replayed bare) right after, so a busy machine weighs on both alike;
        # the report gives the median of the rounds.
        html_bytes = cards = 0
        for _ in range(WARMUP_REQUESTS):
            status, body = http.request("GET", board_path)
            html_bytes, cards = len(body), body.count(b'<article class="card')
            if status != 200:
                errors.append(f"board warm-up: {status}\n{first_lines(body)}")
                break
        statements = bench_board.page_statements(fixture.user, board_path)
        queries, query_sql = len(statements), [sql for sql, _params in statements]
        cards_statement = [bench_board.cards_statement(statements)]
        board_rounds = []
        for _ in range(ROUNDS):
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                status, body = http.request("GET", board_path)
                times.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors.append(f"board: {status}\n{first_lines(body)}")
                    break
            if not times:
                break
            summary = timing_summary(times)
            floor = bench_board.floor_ms(cards_statement)
            every = bench_board.floor_ms(statements)
            board_rounds.append(
                {
                    **summary,
                    "floor_ms": floor,
                    "all_statements_ms": every,
                    "floor_ratio": round(summary["p50"] / floor, 2),
                    "p95_ratio": round(summary["p95"] / summary["p50"], 2),
                    "load": _load(),
                }
            )

        english, danish = self._measure_languages(http, board_path, requests, errors)
        shares = bench_board.time_shares(fixture.user, board_path)

        # Moves over HTTP: one of sven's deals alternates between the first two stages, dropped
        # between the top two cards of the other column, as board.js sends it; the forward
        # drop comes from the exit criteria dialog (confirm, and the required criteria not yet
        # recorded ticked, as the dialog sends them).
        first, second = fixture.stages[0], fixture.stages[1]
        deal_id = (
            Deal.objects.filter(stage=first, status=DealStatus.OPEN, owner=fixture.user)
            .order_by("position", "pk")
            .values_list("pk", flat=True)[1:2]
        )[0]
        neighbours = {}
        for stage in (first, second):
            top_two = list(
                Deal.objects.filter(stage=stage, status=DealStatus.OPEN)
                .exclude(pk=deal_id)
                .order_by("position", "pk")
                .values_list("pk", flat=True)[:2]
            )
            neighbours[stage.pk] = (top_two + ["", ""])[:2]
        move_path = reverse("deal-move", args=[deal_id])
        required = list(
            ExitCriterion.objects.filter(stage=first, is_required=True).values_list("pk", flat=True)
        )

        def move_data() -> dict:
            version, stage_id = Deal.objects.values_list("version", "stage_id").get(pk=deal_id)
            target = second if stage_id == first.pk else first
            after, before = neighbours[target.pk]
            data = {"stage": target.pk, "version": version, "after": after, "before": before}
            data["loaded"] = settings.BOARD_PAGE_SIZE
            if target == second:
                recorded = set(
                    DealCriterionCheck.objects.filter(deal_id=deal_id).values_list(
                        "criterion_id", flat=True
                    )
                )
                data["confirm"] = "1"
                data["criteria"] = [c for c in required if c not in recorded]
            return data

        def move() -> tuple[int, bytes, float]:
            body = urlencode(move_data(), doseq=True)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": CSRF_TOKEN,
                "HX-Request": "true",
            }
            started = time.perf_counter()
            status, data = http.request("POST", move_path, body=body, headers=headers)
            return status, data, (time.perf_counter() - started) * 1000

        move_rounds = []
        move_bytes = 0
        for _ in range(4):  # even: the deal ends where it started
            status, data, _elapsed = move()
            if status != 200:
                errors.append(f"move warm-up: {status}\n{first_lines(data)}")
                break
        if not any(e.startswith("move warm-up") for e in errors):
            for _ in range(ROUNDS):
                times = []
                for _ in range(requests):
                    status, data, elapsed = move()
                    times.append(elapsed)
                    move_bytes = len(data)
                    if status != 200:
                        errors.append(f"move: {status}\n{first_lines(data)}")
                        break
                if not times:
                    break
                summary = timing_summary(times)
                update = bench_board.bare_update_ms(deal_id)
                move_rounds.append(
                    {
                        **summary,
                        "bare_update_ms": update,
                        "update_ratio": round(summary["p50"] / update, 1),
                        "load": _load(),
                    }
                )
                if len(times) < requests:
                    break
        if Deal.objects.filter(pk=deal_id).values_list("stage_id", flat=True).get() != first.pk:
            status, data, _elapsed = move()  # put it back, so the columns keep their sizes
            if status != 200:
                errors.append(f"move back: {status}\n{first_lines(data)}")
        # The drop into the other column, counted in-process; then back again.
        move_status, move_queries, move_sql = bench_board.count_move_queries(
            fixture.user, move_path, move_data()
        )
        if move_status != 200:
            errors.append(f"in-process move: {move_status}")
        status, data, _elapsed = move()

        self.stdout.write(f"  {THROUGHPUT_CLIENTS} clients on the board ...")
        concurrent = bench_board.throughput(
            port,
            session_key,
            board_path,
            clients=THROUGHPUT_CLIENTS,
            requests=max(requests // 2, 10),
        )

        for error in errors:
            self.stderr.write(f"  ERROR at {size}: {error}")
        board = _median_round(board_rounds)
        moves = _median_round(move_rounds)
        result = {
            "open_deals": size,
            "open_deals_in_pipeline": Deal.objects.filter(
                pipeline=fixture.pipeline, status=DealStatus.OPEN
            ).count(),
            "rounds": len(board_rounds),
            "board_ms": board,
            "board_rounds": board_rounds,
            "board_html_kb": round(html_bytes / 1024, 1),
            "cards": cards,
            "bytes_per_card": round(html_bytes / cards) if cards else None,
            "queries": queries,
            "query_sql": query_sql,
            "floor_ms": board["floor_ms"] if board else None,
            "all_statements_ms": board["all_statements_ms"] if board else None,
            "floor_ratio": board["floor_ratio"] if board else None,
            "p95_ratio": board["p95_ratio"] if board else None,
            "board_english_ms": english,
            "board_danish_ms": danish,
            "danish_ratio": round(danish["p50"] / english["p50"], 3)
            if english and danish
            else None,
            "time_shares": shares,
            "move_ms": moves,
            "move_rounds": move_rounds,
            "move_html_kb": round(move_bytes / 1024, 1),
            "move_queries": move_queries,
            "move_query_sql": move_sql,
            "bare_update_ms": moves["bare_update_ms"] if moves else None,
            "move_update_ratio": moves["update_ratio"] if moves else None,
            "throughput": concurrent,
            "requests": requests,
            "errors": errors,
        }
        result["targets"] = self._verdicts(result)
        return result

    def _measure_languages(self, http, board_path: str, requests: int, errors: list[str]):
        """The board in Danish beside English, request by request in turns (the order swapped
        every pair) so both see the same load: translating must not slow the board."""
        times: dict[str, list[float]] = {"en-gb": [], "da": []}
        for index in range(WARMUP_REQUESTS + requests):
            order = ("en-gb", "da") if index % 2 == 0 else ("da", "en-gb")
            for language in order:
                started = time.perf_counter()
                status, body = http.request(
                    "GET", board_path, headers={"Accept-Language": language}
                )
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200 or f'lang="{language}"'.encode() not in body:
                    errors.append(f"board in {language}: {status}\n{first_lines(body)}")
                    return None, None
                if index >= WARMUP_REQUESTS:
                    times[language].append(elapsed)
        return timing_summary(times["en-gb"]), timing_summary(times["da"])

    # --- the manager's pages --------------------------------------------------------------

    def _measure_pages(
        self, *, port: int, requests: int, forecast_size: int, review_size: int
    ) -> list[dict]:
        """The forecast page (default view: 6 months by rep) as the manager of a team with
        `forecast_size` open deals, and the weekly review page as the manager of a team with
        `review_size` open deals; each over HTTP like the board, with its queries counted."""
        scenarios = [
            ("forecast", "Bench forecast", "fcst", forecast_size, reverse("forecast"), 150.0),
            # Loaded by the forecast page right after it (hx-trigger="load").
            (
                "changes",
                "Bench forecast",
                "fcst",
                forecast_size,
                reverse("forecast-changes"),
                150.0,
            ),
            ("review", "Bench review", "rvw", review_size, reverse("review"), 100.0),
        ]
        results = []
        for name, team_name, prefix, size, path, target in scenarios:
            fixture = bench_pages.build_page_fixture(
                team_name=team_name,
                prefix=prefix,
                open_deals=size,
                closed_deals=max(size // 10, 100),
                log=self.stdout.write,
            )
            key = bench_server.login_session(fixture.manager)
            http_session = HttpSession(port, key)
            self.stdout.write(f"Measuring the {name} page over {size} open deals ...")
            try:
                run = timed_gets(http_session, path, requests=requests)
            finally:
                http_session.close()
                bench_server.logout_session(key)
            times, errors = run.times, [f"{name}: {run.error}"] if run.error else []
            html_bytes = 0 if run.error else len(run.body)
            queries, _sql = bench_server.count_queries(fixture.manager, path, err=self.stderr.write)
            for error in errors:
                self.stderr.write(f"  ERROR: {error}")
            summary = timing_summary(times) if times else None
            results.append(
                {
                    "page": name,
                    "open_deals": size,
                    "ms": summary,
                    "queries": queries,
                    "html_kb": round(html_bytes / 1024, 1),
                    "target": f"p50 < {target:g} ms",
                    "pass": bool(summary) and not errors and summary["p50"] < target,
                    "errors": errors,
                }
            )
        return results

    def _verdicts(self, result: dict) -> dict:
        size = result["open_deals"]
        board_target = _board_target(size)
        board = result["board_ms"]["p50"] if result["board_ms"] else None
        move = result["move_ms"]["p50"] if result["move_ms"] else None
        per_card = result["bytes_per_card"]
        return {
            "board_p50_ms": {
                "target": f"< {board_target:g}",
                "pass": board is not None and board < board_target,
            },
            "board_vs_floor": {
                "target": f"<= {BOARD_FLOOR_RATIO_MAX:g}x",
                "pass": result["floor_ratio"] is not None
                and result["floor_ratio"] <= BOARD_FLOOR_RATIO_MAX,
            },
            "board_p95_vs_p50": {
                "target": f"< {BOARD_P95_RATIO_MAX:g}x",
                "pass": result["p95_ratio"] is not None
                and result["p95_ratio"] < BOARD_P95_RATIO_MAX,
            },
            "queries": {"target": f"<= {MAX_QUERIES}", "pass": result["queries"] <= MAX_QUERIES},
            "bytes_per_card": {
                "target": f"< {BOARD_BYTES_PER_CARD_MAX}",
                "pass": per_card is not None and per_card < BOARD_BYTES_PER_CARD_MAX,
            },
            "move_p50_ms": {
                "target": f"< {MOVE_P50_TARGET_MS:g}",
                "pass": move is not None and move < MOVE_P50_TARGET_MS,
            },
            "move_queries": {
                # The bench's drop enters a stage with a follow-up routine: the two queries kept
                # for routines (docs/performance.md) are spent, so the whole ceiling applies.
                "target": f"<= {MAX_QUERIES} (routines included)",
                "pass": result["move_queries"] <= MAX_QUERIES,
            },
            "danish_vs_english": {
                "target": f"<= {DANISH_RATIO_MAX:g}x",
                "pass": result["danish_ratio"] is not None
                and result["danish_ratio"] <= DANISH_RATIO_MAX,
            },
            "no_errors": {"target": "all 200", "pass": not result["errors"]},
        }

    # --- output ---------------------------------------------------------------------------

    def _report(
        self,
        results: list[dict],
        scans: list[dict],
        *,
        json_path: Path,
        requests: int,
        pages: list[dict],
        snapshot: dict | None,
    ) -> None:
        def ms(summary, key):
            return f"{summary[key]:.1f} ms" if summary else "n/a"

        lines = [
            "",
            f"Board and drag ({ROUNDS} rounds of {requests} timed requests each, the median "
            "round shown; gunicorn 2 sync workers; seed_demo's board as sven, plus the open "
            "deals named):",
        ]
        for r in results:
            misses = [name for name, v in r["targets"].items() if not v["pass"]]
            verdict = "PASS" if not misses else "MISS: " + ", ".join(misses)
            shares = r["time_shares"]
            put = r["throughput"]
            lines += [
                "",
                f"  +{r['open_deals']} open deals ({r['open_deals_in_pipeline']} in the "
                f"pipeline): {verdict}",
                f"    board  p50 {ms(r['board_ms'], 'p50')}, p95 {ms(r['board_ms'], 'p95')} "
                f"(p95/p50 {r['p95_ratio']}x), {r['queries']} queries, {r['cards']} cards, "
                f"{r['board_html_kb']:.1f} KB, {r['bytes_per_card']} bytes per card",
                f"    floor  the page's cards statement replayed bare {r['floor_ms']:.2f} ms: "
                f"board / floor {r['floor_ratio']}x (all {r['queries']} of its statements "
                f"{r['all_statements_ms']:.2f} ms)",
                f"    i18n   the board in Danish p50 {ms(r['board_danish_ms'], 'p50')}, in "
                f"English {ms(r['board_english_ms'], 'p50')} (in turns): Danish / English "
                f"{r['danish_ratio']}x",
                f"    time   SQL {shares['sql']:.0%}, Python {shares['python']:.0%}, templates "
                f"{shares['templates']:.0%} (in-process {shares['in_process_ms']:.1f} ms)",
                f"    drag   p50 {ms(r['move_ms'], 'p50')}, p95 {ms(r['move_ms'], 'p95')}, "
                f"{r['move_queries']} queries, {r['move_html_kb']:.1f} KB; bare UPDATE "
                f"{r['bare_update_ms']:.2f} ms: drag / UPDATE {r['move_update_ratio']}x",
                "    rounds board p50 / floor: "
                + ", ".join(
                    f"{x['p50']:.1f} / {x['floor_ms']:.2f} ms = {x['floor_ratio']}x "
                    f"(load {x['load']})"
                    for x in r["board_rounds"]
                ),
                "    rounds drag p50 / UPDATE: "
                + ", ".join(
                    f"{x['p50']:.1f} / {x['bare_update_ms']:.2f} ms = {x['update_ratio']}x "
                    f"(load {x['load']})"
                    for x in r["move_rounds"]
                ),
                f"    load   {put['clients']} clients on the board: {put['per_second']} req/s, "
                f"p50 {ms(put['ms'], 'p50')}, p95 {ms(put['ms'], 'p95')}, "
                f"{put['failures']} not 200",
            ]
        lines += [
            "",
            "Targets (docs/performance.md): board p50 < 50 ms up to 10k open deals, < 80 ms at "
            f"100k, within {BOARD_FLOOR_RATIO_MAX:g}x its SQL floor, p95 < "
            f"{BOARD_P95_RATIO_MAX:g}x p50, at most {MAX_QUERIES} queries, under "
            f"{BOARD_BYTES_PER_CARD_MAX} bytes per card; drag p50 < {MOVE_P50_TARGET_MS:g} ms "
            f"and at most {MAX_QUERIES} queries, the stage's follow-up routine included.",
        ]
        for r in results:
            t = r["targets"]
            lines.append(
                f"  {r['open_deals']:>7}: "
                + "  ".join(
                    f"{name} {v['target']} {'PASS' if v['pass'] else 'MISS'}"
                    for name, v in t.items()
                )
            )
        if pages:
            lines += ["", "Manager pages (as the team's manager, over HTTP like the board):"]
            for p in pages:
                timing = (
                    f"p50 {p['ms']['p50']:.1f} ms, p95 {p['ms']['p95']:.1f} ms"
                    if p["ms"]
                    else "n/a"
                )
                lines.append(
                    f"  {p['page']:<9} {p['open_deals']:>7} open deals: {timing}, "
                    f"{p['queries']} queries, {p['html_kb']:.0f} KB; "
                    f"{p['target']} {'PASS' if p['pass'] else 'MISS'}"
                )
        lines += scan_lines(scans)
        if snapshot:
            lines += [
                "",
                "Weekly snapshot (`manage.py forecast_snapshot` as a subprocess):",
                f"  {snapshot['open_deals']} open deals: {snapshot['seconds']:.2f} s, peak RSS "
                f"{snapshot['peak_rss_mb']:.0f} MB, {snapshot['lines']} lines; "
                f"{snapshot['target']} {'PASS' if snapshot['pass'] else 'MISS'}",
            ]
            if "error" in snapshot:
                lines.append(f"  ERROR: {snapshot['error'][:500]}")
        self.stdout.write("\n".join(lines))
        payload = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": connection.settings_dict.get("NAME"),
            "requests": requests,
            "warmup_requests": WARMUP_REQUESTS,
            "results": results,
            "flag_scan": scans,
            "pages": pages,
            "snapshot": snapshot,
        }
        json_path.write_text(json.dumps(payload, indent=2) + "\n")
        self.stdout.write(f"\nJSON written to {json_path}")
