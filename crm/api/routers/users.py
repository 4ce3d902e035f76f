"""/users: the people the user can see (members of their teams; everyone for an admin), and
/users/me. Read only: users are managed on the settings pages."""

from __future__ import annotations

from django.http import Http404
from ninja import Query, Router

from accounts.selectors import users_visible_to
from crm.api.pagination import keyset_page, parse_int
from crm.api.schemas.common import LIST, READ, Id, PageQuery
from crm.api.schemas.users import MeOut, UserOut, UserPage

router = Router(tags=["users"])


@router.get("/users", response={200: UserPage, **LIST}, summary="List people")
def user_list(request, query: Query[PageQuery]):
    """Active members of the user's teams (everyone active for an admin), by id."""
    people = users_visible_to(user=request.user)
    rows, cursor = keyset_page(
        people, order="id", fields={"id": parse_int}, limit=query.limit, cursor=query.cursor
    )
    return {"results": rows, "next_cursor": cursor}


@router.get("/users/me", response={200: MeOut, **READ}, summary="The token's user")
def user_me(request):
    """Who the token acts as, with their teams and roles."""
    return request.user


@router.get("/users/{user_id}", response={200: UserOut, **READ}, summary="A person")
def user_detail(request, user_id: Id):
    person = users_visible_to(user=request.user).filter(pk=user_id).first()
    if person is None:
        raise Http404
    return person
