"""Pulumi ComponentResources of the bigcompute platform; importing them declares nothing."""

from components.azure import install

install()  # before any component imports an azure-native package: only the resource modules declared load
