"""The Issues tab: data-quality checks with their counts, worst examples, thresholds, one-click
grid filters, tagging what was found and a clean subset without it."""
