"""Docker Engine API: the client and one module per resource kind (network, volume, container, image)."""
