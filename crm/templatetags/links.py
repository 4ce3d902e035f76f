"""`{% url %}` and `{% static %}` with the links and the static files' URLs remembered once per
process (crm/web/links.py). A builtin of the Django engine: `{% url %}` in place of Django's
own tag, `{% static %}` without `{% load static %}` (a template that still loads Django's
library gets Django's tag). Same syntax, same answers."""

from __future__ import annotations

from django import template
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.templatetags.static import StaticNode
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape

from crm.web.links import can_keep, kept_reverse, kept_static

register = template.Library()


class KeptURLNode(URLNode):
    def render(self, context):
        if self.kwargs:
            return super().render(context)
        args = tuple(arg.resolve(context) for arg in self.args)
        if not can_keep(args):
            return super().render(context)
        view_name = self.view_name.resolve(context)
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None)
        if current_app is None:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        url = ""
        try:
            url = kept_reverse(view_name, args, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = django_url(parser, token)
    kept = KeptURLNode(node.view_name, node.args, node.kwargs, node.asvar)
    kept.token, kept.origin = getattr(node, "token", None), getattr(node, "origin", None)
    return kept


class KeptStaticNode(StaticNode):
    @classmethod
    def handle_simple(cls, path):
        return kept_static(path)


@register.tag
def static(parser, token):
    return KeptStaticNode.handle_token(parser, token)
