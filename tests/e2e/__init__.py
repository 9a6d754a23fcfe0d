"""The end-to-end suite on a real kernel: ``bash tools/e2e.sh`` (see README.md)."""
