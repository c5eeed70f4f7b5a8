"""Database helpers: bulk writes and migration operations safe on a live database."""
