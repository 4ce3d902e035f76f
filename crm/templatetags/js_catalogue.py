"""`{% js_catalogue %}`: the active language's JavaScript strings (crm/web/js_catalogue.py)."""

from django import template

from crm.web.js_catalogue import js_catalogue_block

register = template.Library()


@register.simple_tag
def js_catalogue():
    return js_catalogue_block()
