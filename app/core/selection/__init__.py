"""Choosing an informative subset: ``select()`` combines strategies (diversity, typicality,
similarity, weighting, balance) greedily; ``spec`` is a selection request as data (what the CLI
parses and the GUI edits); ``coverage`` measures a subset against random picks."""
