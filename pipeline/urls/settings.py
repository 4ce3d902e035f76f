"""Settings pages (admins only), under /settings/."""

from django.urls import path

from pipeline.views import pipeline_templates, settings


def _list_urls(prefix: str, kind: settings.AdminList) -> list:
    """The pages of an admin-managed list (lost reasons, product areas): the same views,
    told which list by `kind`; URL names settings-<key>s, settings-<key>-update, ..."""
    key, given = kind.key, {"kind": kind}
    return [
        path(f"{prefix}/", settings.list_index, given, name=f"settings-{key}s"),
        path(f"{prefix}/order/", settings.list_reorder, given, name=f"settings-{key}-reorder"),
        path(
            f"{prefix}/<int:pk>/edit/", settings.list_rename, given, name=f"settings-{key}-update"
        ),
        path(f"{prefix}/<int:pk>/move/", settings.list_move, given, name=f"settings-{key}-move"),
        path(
            f"{prefix}/<int:pk>/retire/",
            settings.list_set_active,
            {**given, "active": False},
            name=f"settings-{key}-retire",
        ),
        path(
            f"{prefix}/<int:pk>/restore/",
            settings.list_set_active,
            {**given, "active": True},
            name=f"settings-{key}-restore",
        ),
    ]


urlpatterns = [
    path("", settings.settings_home, name="settings-home"),
    path("pipelines/", settings.pipeline_list, name="settings-pipelines"),
    path(
        "pipelines/from-template/",
        pipeline_templates.pipeline_from_template,
        name="settings-pipeline-from-template",
    ),
    path("pipelines/<int:pk>/", settings.pipeline_detail, name="settings-pipeline"),
    path("pipelines/<int:pk>/edit/", settings.pipeline_update, name="settings-pipeline-update"),
    path(
        "pipelines/<int:pk>/archive/", settings.pipeline_archive, name="settings-pipeline-archive"
    ),
    path(
        "pipelines/<int:pk>/unarchive/",
        settings.pipeline_unarchive,
        name="settings-pipeline-unarchive",
    ),
    path("pipelines/<int:pk>/stages/new/", settings.stage_create, name="settings-stage-create"),
    path("pipelines/<int:pk>/stages/order/", settings.stage_reorder, name="settings-stage-reorder"),
    path("stages/<int:pk>/", settings.stage_row, name="settings-stage-row"),
    path("stages/<int:pk>/edit/", settings.stage_update, name="settings-stage-update"),
    path("stages/<int:pk>/move/", settings.stage_move, name="settings-stage-move"),
    path("stages/<int:pk>/remove/", settings.stage_delete, name="settings-stage-delete"),
    path(
        "stages/<int:pk>/criteria/new/", settings.criterion_create, name="settings-criterion-create"
    ),
    path("criteria/<int:pk>/edit/", settings.criterion_update, name="settings-criterion-update"),
    path("criteria/<int:pk>/remove/", settings.criterion_delete, name="settings-criterion-delete"),
    path("criteria/<int:pk>/move/", settings.criterion_move, name="settings-criterion-move"),
    path("stages/<int:pk>/routines/new/", settings.routine_create, name="settings-routine-create"),
    path("routines/<int:pk>/edit/", settings.routine_update, name="settings-routine-update"),
    path("routines/<int:pk>/remove/", settings.routine_delete, name="settings-routine-delete"),
    path("routines/<int:pk>/move/", settings.routine_move, name="settings-routine-move"),
    *_list_urls("lost-reasons", settings.LOST_REASONS),
    *_list_urls("product-areas", settings.PRODUCT_AREAS),
]
