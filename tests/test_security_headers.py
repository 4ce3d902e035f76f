from __future__ import annotations

import re
from pathlib import Path


def test_every_response_carries_the_security_headers(client, alice):
    for response in (client.get("/accounts/login/"), client.get("/no-such-page/")):
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_scripts_or_styles():
    """The policy forbids inline script and style; a template that used them would break."""
    root = Path(__file__).resolve().parents[1] / "templates"
    for template in root.rglob("*.htm*"):
        if template.name == "500.html" or "email" in template.parts:
            continue  # the bare error page and e-mails carry their own inline styles
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert " style=" not in text and "<style" not in text, template
    for template in root.rglob("*.jinja"):
        text = template.read_text()
        assert "<script" not in text and " style=" not in text, template
