from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import DealFactory, UserFactory


@pytest.mark.django_db
def test_every_registered_model_lists_for_a_superuser(client, stages_a):
    DealFactory(stage=stages_a[0])
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_staff_rights_come_from_superuser_not_from_the_admin_role(client, admin):
    client.force_login(admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302  # the in-app admin role is not Django admin access


@pytest.mark.django_db
def test_a_rate_saved_in_the_admin_moves_the_money_version_on(
    client, django_capture_on_commit_callbacks
):
    from pipeline.models import ExchangeRate
    from pipeline.money import money_version

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    before = money_version()
    data = {
        "currency": "SEK",
        "rate": "0.0900",
        "valid_from": "2026-02-03",
        "set_by": root.pk,
        "created_at_0": "2026-01-01",
        "created_at_1": "10:00:00",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:pipeline_exchangerate_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ExchangeRate.objects.filter(currency="SEK").exists()
    assert money_version() != before
