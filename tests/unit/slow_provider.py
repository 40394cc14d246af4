"""A dynamic provider whose ``check`` takes a second, for measuring how many calls a server runs at once."""

import time

from pulumi.dynamic import CheckResult, ResourceProvider


class SlowCheckProvider(ResourceProvider):
    def check(self, olds, news):
        time.sleep(1.0)
        return CheckResult(news, [])
