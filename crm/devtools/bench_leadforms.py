"""Benchmark a website lead-form submission against PostgreSQL through a real gunicorn.

    python manage.py bench_leadforms [--requests 100] [--companies 5000] [--open-deals 5000]
                                     [--json bench-results/bench_leadforms.json] [--port 8767]

Builds (and reuses) an isolated fixture: team "Bench leads" with three salespeople, pipeline
"Bench leads pipeline" whose first stage holds --open-deals open deals, --companies companies
with two contacts each, and a lead form with round robin over the three. Then gunicorn (2 sync
workers) serves the app and the command posts the form like a visitor's browser (an HTML
form with a start token handed out ten seconds earlier; the rate limits opened wide),
rotating three kinds of lead: a new firm (new company and contact), a known contact (matched
by e-mail) and a free-mail sender naming a known company (matched by name). It reports p50
and p95 against the target (docs/performance.md: under 30 ms) and the submission's SQL
queries counted in-process. The leads it created are removed afterwards, so runs stay
comparable. `make bench` runs it after the main benchmark.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from crm.devtools import bench_server
from crm.devtools.bench_fixtures import STAGES, delete_deals
from crm.devtools.bench_http import (
    WARMUP_REQUESTS,
    HttpSession,
    first_lines,
    timed_gets,
    timing_summary,
)
from crm.models import Company, Contact
from pipeline.models import Deal, LeadForm, OwnerRule, Pipeline, Stage, lead_form_key
from pipeline.services import POSITION_GAP, fill_token, stage_totals_rebuild

TEAM_NAME = "Bench leads"
REPS = ["bench_lead_1", "bench_lead_2", "bench_lead_3"]
PIPELINE_NAME = "Bench leads pipeline"
FORM_NAME = "Bench leads"
P50_TARGET_MS = 30.0
# Rates high enough that the benchmark measures the work, not the refusals.
OPEN_RATES = {"LEAD_FORM_ADDRESS_RATE": "1000000/min", "LEAD_FORM_RATE": "1000000/min"}


@dataclass
class Fixture:
    team: Team
    reps: list[User]
    pipeline: Pipeline
    stages: list[Stage]
    lead_form: LeadForm


def _user(username: str) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": username.split("_")[-1], "last_name": "Bench"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def build_fixture(*, companies: int, open_deals: int, log) -> Fixture:
    team, _ = Team.objects.get_or_create(name=TEAM_NAME)
    reps = [_user(name) for name in REPS]
    for rep in reps:
        Membership.objects.get_or_create(user=rep, team=team, defaults={"role": Role.SALESPERSON})
    pipeline, _ = Pipeline.objects.get_or_create(
        team=team, name=PIPELINE_NAME, defaults={"position": 3000}
    )
    stages = [
        Stage.objects.get_or_create(
            pipeline=pipeline, name=name, defaults={"position": i, "probability": p}
        )[0]
        for i, (name, p) in enumerate(STAGES)
    ]
    have = Company.objects.filter(team=team).count()
    if have < companies:
        log(f"Adding {companies - have} companies with two contacts each ...")
        made = Company.objects.bulk_create(
            Company(team=team, name=f"Bench firm {i:05d} A/S", domain=f"firm{i:05d}.bench.example")
            for i in range(have, companies)
        )
        Contact.objects.bulk_create(
            Contact(
                company=company,
                name=f"Contact {n} of {company.name}",
                email=f"person{n}@{company.domain}",
            )
            for company in made
            for n in (1, 2)
        )
    first = stages[0]
    have = Deal.objects.filter(stage=first, status="open").count()
    if have < open_deals:
        log(f"Adding {open_deals - have} open deals to {first.name} ...")
        now = timezone.now()
        firms = list(Company.objects.filter(team=team).values_list("pk", flat=True)[:500])
        Deal.objects.bulk_create(
            Deal(
                title=f"Bench lead {i}",
                pipeline=pipeline,
                stage=first,
                owner=reps[i % len(reps)],
                company_id=firms[i % len(firms)],
                position=(i + 1) * POSITION_GAP,
                created_at=now,
                stage_entered_at=now,
                last_movement_at=now,
            )
            for i in range(have, open_deals)
        )
        stage_totals_rebuild(stage_ids=[first.pk])
    lead_form = LeadForm.objects.filter(pipeline=pipeline, name=FORM_NAME).first()
    if lead_form is None:
        lead_form = LeadForm.objects.create(
            pipeline=pipeline,
            name=FORM_NAME,
            key=lead_form_key(),
            fields={
                key: {"required": key in ("name", "email"), "label": ""}
                for key in ("name", "email", "phone", "company", "message")
            },
            owner_rule=OwnerRule.ROUND_ROBIN,
            next_step_subject="Call back within 1 working day",
        )
        lead_form.round_robin_users.set(reps)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_company, crm_contact, pipeline_deal")
    return Fixture(team=team, reps=reps, pipeline=pipeline, stages=stages, lead_form=lead_form)


def _lead(i: int, *, token: str, companies: int) -> dict[str, str]:
    """The i-th visitor: a new firm, a known contact, or free mail naming a known company."""
    firm = (i * 7919) % companies
    kind = i % 3
    if kind == 0:
        email, company = f"buyer{i}@newfirm{i}-{time.time_ns()}.example", f"New firm {i} ApS"
    elif kind == 1:
        email, company = f"person1@firm{firm:05d}.bench.example", ""
    else:
        email, company = f"visitor{i}@gmail.com", f"Bench firm {firm:05d}"
    return {
        "name": f"Visitor {i}",
        "email": email,
        "phone": "+45 70 20 30 40",
        "company": company,
        "message": "We would like a quote for 40 pallet racks, delivered in March.",
        "_ts": token,
    }


def _cleanup(fixture: Fixture, since) -> None:
    """Remove what the timed submissions created, so the next run starts from the same data."""
    delete_deals(
        "pipeline_id = %s AND source = %s", [fixture.pipeline.pk, fixture.lead_form.source]
    )
    Contact.objects.filter(company__team=fixture.team, created_at__gte=since).delete()
    Company.objects.filter(team=fixture.team, created_at__gte=since).delete()
    stage_totals_rebuild(stage_ids=[fixture.stages[0].pk])
    LeadForm.objects.filter(pk=fixture.lead_form.pk).update(submission_count=0, spam_count=0)


def count_queries(fixture: Fixture, *, companies: int) -> int:
    """One submission's SQL queries, in-process (the same three kinds averaged away: the new
    firm, the costliest)."""
    path = reverse("lead-form-public", args=[fixture.lead_form.key])
    with override_settings(SECURE_SSL_REDIRECT=False, ALLOWED_HOSTS=["testserver"], **OPEN_RATES):
        client = Client()
        token = fill_token(lead_form=fixture.lead_form, now=time.time() - 10)
        client.post(path, _lead(0, token=token, companies=companies))  # warm
        with CaptureQueriesContext(connection) as captured:
            response = client.post(path, _lead(3, token=token, companies=companies))
    if response.status_code != 200:
        raise CommandError(f"in-process submission answered {response.status_code}")
    return len(captured.captured_queries)


class LeadFormBench:
    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def run(
        self, *, requests: int, companies: int, open_deals: int, json_path: Path, port: int
    ) -> dict:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        log_path = json_path.with_name("gunicorn-leadforms.log")
        fixture = build_fixture(companies=companies, open_deals=open_deals, log=self.stdout.write)
        since = timezone.now()
        saved = {key: os.environ.get(key) for key in OPEN_RATES}
        os.environ.update(OPEN_RATES)
        server = None
        errors: list[str] = []
        times: list[float] = []
        page_times: list[float] = []
        path = reverse("lead-form-public", args=[fixture.lead_form.key])
        try:
            server = bench_server.start_gunicorn(port, log_path, log=self.stdout.write)
            http = HttpSession(port, "")
            bench_server.wait_until_up(server, http, path, log_path)
            token = fill_token(lead_form=fixture.lead_form, now=time.time() - 10)
            self.stdout.write(f"Posting {requests} leads (after {WARMUP_REQUESTS} warm-ups) ...")
            for i in range(WARMUP_REQUESTS + requests):
                body = urlencode(_lead(i, token=token, companies=companies))
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                started = time.perf_counter()
                status, data = http.request("POST", path, body=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    errors.append(f"submission {i}: {status}\n{first_lines(data)}")
                    break
                if i >= WARMUP_REQUESTS:
                    times.append(elapsed)
            # The reference in the same run: the form's own page (one query and a render)
            # through the same stack, what any request costs on this machine right now.
            page = timed_gets(http, path, requests=requests)
            page_times = page.times
            if page.error:
                errors.append(f"page: {page.error}")
            http.close()
        finally:
            if server is not None:
                bench_server.stop_gunicorn(server)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        created = Deal.objects.filter(
            pipeline=fixture.pipeline, source=fixture.lead_form.source
        ).count()
        owners = sorted(
            Deal.objects.filter(pipeline=fixture.pipeline, source=fixture.lead_form.source)
            .order_by()
            .values_list("owner__username", flat=True)
            .distinct()
        )
        queries = count_queries(fixture, companies=companies)
        _cleanup(fixture, since)
        summary = timing_summary(times) if times else None
        page = timing_summary(page_times) if page_times else None
        result = {
            "what": "lead-form submission (HTML form post, through gunicorn)",
            "requests": len(times),
            "companies_in_team": companies,
            "open_deals_in_first_stage": open_deals,
            "ms": summary,
            "queries": queries,
            "form_page_ms": page,
            "vs_form_page": round(summary["p50"] / page["p50"], 1) if summary and page else None,
            "leads_created": created,
            "owners": owners,
            "target": f"p50 < {P50_TARGET_MS:g} ms",
            "pass": bool(summary) and not errors and summary["p50"] < P50_TARGET_MS,
            "errors": errors,
        }
        json_path.write_text(json.dumps(result, indent=2))
        for error in errors:
            self.stderr.write(f"  ERROR: {error}")
        if summary:
            verdict = "PASS" if result["pass"] else "FAIL"
            self.stdout.write(
                f"Lead-form submission: p50 {summary['p50']} ms, p95 {summary['p95']} ms, "
                f"{queries} queries, {created} leads over {len(owners)} owners "
                f"(target {result['target']}): {verdict}; the form's page p50 "
                f"{page['p50'] if page else '-'} ms ({result['vs_form_page']}x)"
            )
        self.stdout.write(f"Results written to {json_path}")
        bench_server.report_gunicorn_log(log_path, err=self.stderr.write)
        return result
