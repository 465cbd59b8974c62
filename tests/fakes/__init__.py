"""Fake vendors and workers for tests: loopback servers speaking each wire format exactly."""
