"""Audit mode: nova owns PMEM (``[libvirt]pmem_namespaces``); pmem-placement never writes.

Flow: ``nova_conf`` reads nova's option from nova's configuration files; ``nova_libvirt``
reproduces what nova's libvirt driver makes of it and of ndctl's output at start-up (pure);
``findings`` compares configuration, host and Placement (pure); ``runner`` gathers the inputs
(discovery, GET requests only) and renders the result; ``command`` is ``pmem-placement audit``;
``watch`` is the agent's audit mode.
"""
