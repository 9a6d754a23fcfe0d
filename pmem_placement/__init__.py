"""pmem-placement: keep the Placement service truthful about a host's persistent memory."""
