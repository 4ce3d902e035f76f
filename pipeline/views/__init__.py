"""The pipeline app's views, one module per subject; the URLs (pipeline/urls/) name them."""
