"""Playing runs on a Ray cluster."""
