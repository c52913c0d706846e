"""One file per paper model; each registers its stylisation method in :mod:`stylelib.methods`."""
