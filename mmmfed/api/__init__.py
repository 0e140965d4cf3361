"""Generated wire contract packages (see scripts/gen_protos.py)."""
