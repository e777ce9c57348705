"""Data sets, training, evaluation, export and exploratory reports (needs the [torch] extra)."""
