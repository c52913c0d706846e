"""How each paper is trained, registered and experimented with: one module per paper (the paper itself is in stylelib.models)."""
