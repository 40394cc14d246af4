"""The dynamic providers: one module per resource kind, on the Fly Machines API and the Docker Engine API."""
