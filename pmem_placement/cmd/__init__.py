"""Entry points. Each turns configuration into objects (``common``) and results into output."""
