"""The cache store: stable keys for code and values, and the SQLite file that holds results."""
