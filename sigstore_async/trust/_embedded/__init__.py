"""Bootstrap trust material for the public-good Sigstore instances (see PROVENANCE.md)."""
