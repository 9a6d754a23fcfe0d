"""Talking to Placement: ``client`` speaks HTTP, ``errors`` turns answers into typed exceptions."""
