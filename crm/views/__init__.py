"""The crm app's views, one module per subject."""
