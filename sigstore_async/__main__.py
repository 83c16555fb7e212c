"""``python -m sigstore_async`` runs the command line."""

from .cli import entry_point

entry_point()
