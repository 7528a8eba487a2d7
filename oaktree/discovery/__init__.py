"""Resource discovery: the per-service AWS APIs -> the inventory, and changes -> events."""
