"""The screens' string catalogue: one TOML file per language, keyed by message id (see screens/catalogue.py)."""
