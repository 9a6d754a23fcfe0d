"""The end-to-end suite on a real kernel: ``bash tools/e2e.sh`` (see docs/e2e.md)."""
