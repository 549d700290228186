"""Submission-time checks of a pool's container configuration and file system mounts: what Batch refuses
(BatchContainerConfiguration and MountConfiguration in the 2025-06-01 REST spec). A valid pool is accepted, as on
Azure; what a local node cannot do with it shows on the node (compute/node_setup.py), never at creation."""

from __future__ import annotations

from typing import Any

from bigcompute.emulator.core.errors import invalid_property, missing_property

_CC = "virtualMachineConfiguration.containerConfiguration"
CONTAINER_TYPES = ("dockerCompatible", "criCompatible")  # ContainerType
# MountConfiguration: exactly one of these per entry ("mutually exclusive with all other properties"), each with
# the properties its definition requires.
MOUNT_KINDS: dict[str, tuple[str, ...]] = {
    "azureBlobFileSystemConfiguration": ("accountName", "containerName", "relativeMountPath"),
    "azureFileShareConfiguration": ("accountName", "accountKey", "azureFileUrl", "relativeMountPath"),
    "nfsMountConfiguration": ("source", "relativeMountPath"),
    "cifsMountConfiguration": ("username", "source", "relativeMountPath", "password"),
}
# AzureBlobFileSystemConfiguration: accountKey, sasKey and identityReference, "exactly one must be specified".
_BLOB_CREDENTIALS = ("accountKey", "sasKey", "identityReference")


def check_container_configuration(cc: Any) -> None:
    if not isinstance(cc, dict):
        raise invalid_property(_CC, "containerConfiguration must be an object.")
    if not cc.get("type"):
        raise missing_property(f"{_CC}.type")
    if str(cc["type"]).lower() not in {t.lower() for t in CONTAINER_TYPES}:
        raise invalid_property(f"{_CC}.type", f"type must be one of {', '.join(CONTAINER_TYPES)}.", cc["type"])
    images = cc.get("containerImageNames") or []
    if not isinstance(images, list) or not all(isinstance(i, str) and i for i in images):
        raise invalid_property(f"{_CC}.containerImageNames", "containerImageNames must be a list of image names.")
    for i, reg in enumerate(cc.get("containerRegistries") or []):
        prop = f"{_CC}.containerRegistries[{i}]"
        if not isinstance(reg, dict):
            raise invalid_property(prop, "A container registry must be an object.")
        if bool(reg.get("username")) != bool(reg.get("password")):
            raise missing_property(f"{prop}.{'password' if reg.get('username') else 'username'}")


def check_mounts(mounts: Any) -> None:
    if mounts is None:
        return
    if not isinstance(mounts, list):
        raise invalid_property("mountConfiguration", "mountConfiguration must be a list.")
    for i, entry in enumerate(mounts):
        prop = f"mountConfiguration[{i}]"
        kinds = [k for k in MOUNT_KINDS if isinstance(entry, dict) and entry.get(k)]
        if len(kinds) != 1:
            raise invalid_property(prop, f"Exactly one of {', '.join(MOUNT_KINDS)} must be specified.")
        config = entry[kinds[0]]
        for key in MOUNT_KINDS[kinds[0]]:
            if not config.get(key):
                raise missing_property(f"{prop}.{kinds[0]}.{key}")
        if kinds[0] == "azureBlobFileSystemConfiguration" and sum(bool(config.get(k)) for k in _BLOB_CREDENTIALS) != 1:
            raise invalid_property(f"{prop}.{kinds[0]}", f"Exactly one of {', '.join(_BLOB_CREDENTIALS)} must be "
                                   "specified.")


def check_extensions(extensions: Any) -> None:
    """VMExtension requires name, publisher and type; names tell extensions apart on the node
    (GET .../extensions/{extensionName})."""
    if extensions is None:
        return
    prop = "virtualMachineConfiguration.extensions"
    if not isinstance(extensions, list):
        raise invalid_property(prop, "extensions must be a list.")
    seen: set[str] = set()
    for i, ext in enumerate(extensions):
        if not isinstance(ext, dict):
            raise invalid_property(f"{prop}[{i}]", "An extension must be an object.")
        for key in ("name", "publisher", "type"):
            if not ext.get(key):
                raise missing_property(f"{prop}[{i}].{key}")
        if ext["name"].lower() in seen:
            raise invalid_property(f"{prop}[{i}].name", "Extension names must be unique within a pool.", ext["name"])
        seen.add(ext["name"].lower())
