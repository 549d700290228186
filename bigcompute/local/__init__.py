"""The local target: Azurite and the Batch emulator started, recorded and stopped as background processes
(`bigcompute local up|status|down`), and the helpers tests use to drive them through the real SDKs.

It stands above `bigcompute.emulator`: it starts that service and never the other way round.
"""
