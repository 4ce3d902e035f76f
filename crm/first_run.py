"""The first run: on an install without teams or pipelines, the pages that show a team's
records answer with what to do next instead of an empty page or a 404. An admin is shown the
set-up steps (create the first team, then its pipeline, then add people) with links; anyone
else is told to ask an admin. Settings pages stay open: that is where an admin sets up.
"""

from __future__ import annotations

import functools

from django.shortcuts import render

from accounts.selectors import setup_for_user

NEEDS = ("team", "pipeline")


def setup_required(needs: str):
    """Wrap a view that shows a team's records (`needs="team"`: companies, contacts) or a
    pipeline's deals (`needs="pipeline"`: forecast, review, analytics...). Until the signed-in
    user has one, the view does not run and the first-run page answers (200). Signed-out
    visitors pass through to the view's own sign-in redirect."""
    if needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, not {needs!r}")

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.user.is_authenticated:
                setup = setup_for_user(user=request.user)
                ready = setup.has_pipeline if needs == "pipeline" else setup.has_team
                if not ready:
                    template = "partials/first_run.html" if request.htmx else "first_run.html"
                    return render(request, template, {"setup": setup})
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
