"""The Django admin, for superusers. Day-to-day changes go through the product's own pages
and services; a rate saved or deleted here moves the money version on like the service does,
so cached figures in money are recomputed at once."""

from django.contrib import admin

from pipeline.models import (
    Activity,
    Deal,
    ExchangeRate,
    Flag,
    LostReason,
    Pipeline,
    SalesTarget,
    Stage,
)
from pipeline.money import rates_changed


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ["name", "position", "probability", "rot_days"]


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "is_archived"]
    inlines = [StageInline]


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "is_active"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "rate", "valid_from", "set_by"]
    list_filter = ["currency"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rates_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        rates_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        rates_changed()


@admin.register(SalesTarget)
class SalesTargetAdmin(admin.ModelAdmin):
    list_display = ["user", "period_kind", "period_start", "amount"]
    list_filter = ["period_kind"]


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    """Read-mostly: positions, totals and flags are kept by the services."""

    list_display = ["title", "pipeline", "stage", "owner", "status", "value", "currency"]
    list_filter = ["status", "pipeline"]
    search_fields = ["title"]
    readonly_fields = [f.name for f in Deal._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["subject", "deal", "assignee", "due_date", "done_at"]
    readonly_fields = ["deal"]


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = ["deal", "kind", "raised_at", "resolved_at"]
    list_filter = ["kind"]
    readonly_fields = ["deal", "kind", "raised_at", "resolved_at"]
