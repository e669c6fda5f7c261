"""The simulated MSP world as ConnectWise records (filled in once the world exists)."""

from __future__ import annotations

from typing import Any

MY_MEMBER_INFO_FIELDS = (
    "id", "identifier", "firstName", "middleInitial", "lastName", "licenseClass", "inactiveFlag",
    "dailyCapacity", "defaultLocation", "defaultDepartment", "timeZone", "serviceDefaultBoard",
    "workRole", "workType", "_info",
)


def my_member_info(member: dict[str, Any]) -> dict[str, Any]:
    """``system/myMembers/info`` for a member: pyconnectwise's ``MyMemberInfo`` fields.

    Only ``identifier`` is confirmed from a real answer (facts §4); the rest are the
    generated model's names, with ``fullName`` and ``defaultEmail`` (the address, where
    ``Member.defaultEmail`` names which one) derived from the member record.
    """
    info = {key: member[key] for key in MY_MEMBER_INFO_FIELDS if key in member}
    info["fullName"] = " ".join(p for p in (member.get("firstName"), member.get("lastName")) if p)
    email = member.get("primaryEmail") or member.get("officeEmail")
    if email:
        info["defaultEmail"] = email
    return info
