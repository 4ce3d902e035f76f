"""The signature every delivery carries, Stripe's scheme: HMAC-SHA256 under the endpoint's
secret over `f"{timestamp}.{body}"`, sent as `CRM-Signature: t=<timestamp>,v1=<hex digest>`.
The README's verification recipe is the inverse of `signature_header`; the tests run it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "CRM-Signature"
SECRET_PREFIX = "whsec_"


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"
