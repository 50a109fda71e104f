"""The user-data promises as tests: originals untouched, curation kept, nothing written outside --out."""
