"""Offline review of the Pulumi program: run it under mocks, collect the resource graph, check policy."""
