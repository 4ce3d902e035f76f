"""Webhooks: endpoints admins register, the outbox of events written with each change, and
their signed delivery after commit (docs/architecture.md, "Webhooks")."""
