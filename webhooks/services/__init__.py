"""Writes of the webhooks app, one module per subject: `events` (the outbox, called by the
other apps' services), `endpoints` (the settings pages' writes) and `deliveries` (sending,
retrying, the sweep)."""
