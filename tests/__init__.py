"""The test suite (a package, so that tests/screens is tests.screens and never shadows the app's screens package)."""
