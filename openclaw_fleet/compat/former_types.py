"""Component types of earlier versions, as aliases (https://www.pulumi.com/docs/iac/concepts/options/aliases/).

Before 2026-09 both gateway components were one type, ``openclaw:fleet:UserInstance``; each
carries it as an alias, so a stack made then sees no replacement.
"""

from __future__ import annotations

import pulumi

FORMER_GATEWAY_TYPE = "openclaw:fleet:UserInstance"


def former_gateway_aliases() -> pulumi.ResourceOptions:
    """The options that alias a gateway component to its former type."""
    return pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_GATEWAY_TYPE)])
