"""The pipeline app's forms, one module per subject: import from the subject's module
(`from pipeline.forms.deals import DealForm`)."""
