"""firmtuf device verifier (placeholder until the client lands)."""
