"""The user-data promises: originals untouched, curation kept, nothing written outside --out."""
