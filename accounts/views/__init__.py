"""The accounts app's views, one module per subject; the URLs (accounts/urls/) name them."""
