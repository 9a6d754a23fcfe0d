"""The agent: ``schedule`` (when to run, pure), ``cycle`` (one reconcile and its bookkeeping),
``report`` (status and metrics files), ``service`` (the oslo.service loop and signals)."""
