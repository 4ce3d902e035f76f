"""Settings pages (admins only), under /settings/."""

from django.urls import path

from pipeline import views_settings as views


def _list_urls(prefix: str, kind: views.AdminList) -> list:
    """The pages of an admin-managed list (lost reasons, product areas): the same views,
    told which list by `kind`; URL names settings-<key>s, settings-<key>-update, ..."""
    key, given = kind.key, {"kind": kind}
    return [
        path(f"{prefix}/", views.list_index, given, name=f"settings-{key}s"),
        path(f"{prefix}/order/", views.list_reorder, given, name=f"settings-{key}-reorder"),
        path(f"{prefix}/<int:pk>/edit/", views.list_rename, given, name=f"settings-{key}-update"),
        path(f"{prefix}/<int:pk>/move/", views.list_move, given, name=f"settings-{key}-move"),
        path(
            f"{prefix}/<int:pk>/retire/",
            views.list_set_active,
            {**given, "active": False},
            name=f"settings-{key}-retire",
        ),
        path(
            f"{prefix}/<int:pk>/restore/",
            views.list_set_active,
            {**given, "active": True},
            name=f"settings-{key}-restore",
        ),
    ]


urlpatterns = [
    path("", views.settings_home, name="settings-home"),
    path("pipelines/", views.pipeline_list, name="settings-pipelines"),
    path("pipelines/<int:pk>/", views.pipeline_detail, name="settings-pipeline"),
    path("pipelines/<int:pk>/edit/", views.pipeline_update, name="settings-pipeline-update"),
    path("pipelines/<int:pk>/archive/", views.pipeline_archive, name="settings-pipeline-archive"),
    path(
        "pipelines/<int:pk>/unarchive/",
        views.pipeline_unarchive,
        name="settings-pipeline-unarchive",
    ),
    path("pipelines/<int:pk>/stages/new/", views.stage_create, name="settings-stage-create"),
    path("pipelines/<int:pk>/stages/order/", views.stage_reorder, name="settings-stage-reorder"),
    path("stages/<int:pk>/", views.stage_row, name="settings-stage-row"),
    path("stages/<int:pk>/edit/", views.stage_update, name="settings-stage-update"),
    path("stages/<int:pk>/move/", views.stage_move, name="settings-stage-move"),
    path("stages/<int:pk>/remove/", views.stage_delete, name="settings-stage-delete"),
    path("stages/<int:pk>/criteria/new/", views.criterion_create, name="settings-criterion-create"),
    path("criteria/<int:pk>/edit/", views.criterion_update, name="settings-criterion-update"),
    path("criteria/<int:pk>/remove/", views.criterion_delete, name="settings-criterion-delete"),
    path("criteria/<int:pk>/move/", views.criterion_move, name="settings-criterion-move"),
    *_list_urls("lost-reasons", views.LOST_REASONS),
    *_list_urls("product-areas", views.PRODUCT_AREAS),
]
