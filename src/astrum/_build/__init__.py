"""Build: registered tasks become one immutable, validated plan (pure, synchronous code)."""
