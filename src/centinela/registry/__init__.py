"""Registry of establishments, professionals and products."""
