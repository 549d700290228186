"""The HTTP layer: routes, handlers, middleware (request ids, faults, api-version, auth), OData and bodies.

It parses requests and serializes answers; what a request may do is decided by the service and its stores.
"""
