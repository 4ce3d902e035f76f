"""A person makes an API token on their profile page, uses it, revokes it; the API docs page
runs Swagger UI under the site's Content-Security-Policy (no console errors)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accounts.models import ApiToken
from tests.e2e.conftest import log_in

SHOTS = Path(os.environ.get("SHOTS_DIR", "/work/wt/shots"))
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}


def _shot(page, name: str) -> None:
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / f"api-{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_make_use_and_revoke_a_token(page, alice, stages_a):
    log_in(page, "alice")
    page.set_viewport_size(LAPTOP)
    page.click(".usermenu summary")
    page.click("text=Profile and API tokens")
    page.fill("input[name=name]", "Weekly report script")
    page.select_option("select[name=expires]", "90")
    page.click("text=Create token")
    secret = page.input_value("#new-token")
    assert secret.startswith("crm_")
    page.click("button[data-copy]")
    _shot(page, "profile-new-token")

    answer = page.request.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 200 and answer.json()["username"] == "alice"

    page.goto("/accounts/profile/")
    assert secret not in page.content()
    assert page.locator("#api-tokens td.token-name").inner_text() == "Weekly report script"
    page.set_viewport_size(PHONE)
    _shot(page, "profile-phone")
    page.set_viewport_size(LAPTOP)
    _shot(page, "profile")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#api-tokens button.btn-danger")
    page.wait_for_selector("text=No API tokens yet.")
    assert ApiToken.objects.get().revoked_at is not None
    refused = page.request.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 401


@pytest.mark.django_db(transaction=True)
def test_the_docs_page_runs_under_the_sites_csp(page, alice):
    page.set_viewport_size(LAPTOP)
    page.goto("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "CRM API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector('[data-path="/api/v1/deals/{deal_id}/move"]')
    _shot(page, "docs")
    page.set_viewport_size(PHONE)
    _shot(page, "docs-phone")
