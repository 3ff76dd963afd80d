"""Build-time tools run from the repository (`make docs`, `make i18n`, the .mo build hook): never installed."""
