from django.urls import path

from pipeline.views import lead_balance

urlpatterns = [
    path("lead-balance/", lead_balance.lead_balance, name="lead-balance"),
    path(
        "lead-balance/capacity/",
        lead_balance.lead_balance_capacity,
        name="lead-balance-capacity",
    ),
]
