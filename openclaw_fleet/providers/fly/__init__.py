"""Fly Machines API: the client and one module per resource kind (app, IP assignment, volume, secrets, machine)."""
