"""Pulumi ComponentResources of the bigcompute platform; importing them declares nothing."""
