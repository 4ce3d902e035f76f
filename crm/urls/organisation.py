"""Organisation settings (admins): name, currency, time zone, exchange rates, ABC tiers."""

from django.urls import path

from crm.views import organisation, tiers

urlpatterns = [
    path("organisation/", organisation.organisation_settings, name="settings-organisation"),
    path(
        "exchange-rates/",
        organisation.exchange_rate_create,
        name="settings-exchange-rate-create",
    ),
    path("tiers/", tiers.settings_tiers, name="settings-tiers"),
    path("tiers/recompute/", tiers.settings_tiers_recompute, name="settings-tiers-recompute"),
]
