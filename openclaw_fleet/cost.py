"""Estimated monthly cost of a user's gateway on Fly.io, from the price list in ``data/fly-prices.yaml``.

A running machine costs its size's preset price plus the memory above the preset's
(``additional_ram_gb_month`` per GB); a stopped machine costs no CPU or memory (Fly bills
running time; the root file system of a stopped machine is billed per GB, a few cents, left
out). The volume costs its provisioned size either way. Docker gateways have no price.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from openclaw_fleet.roster.model import FLY_SIZES

PRICE_FILE = Path(__file__).parent / "data" / "fly-prices.yaml"


@dataclass(frozen=True)
class FlyPrices:
    """The price list: ``date`` (ISO), ``source`` (URL), ``currency``, monthly prices."""

    date: str
    source: str
    currency: str
    machine_month: dict[str, float]
    additional_ram_gb_month: float
    volume_gb_month: float

    @classmethod
    def load(cls, path: Path = PRICE_FILE) -> FlyPrices:
        """Read the price file; raises OSError, yaml.YAMLError or TypeError (a missing or unknown key)."""
        data = yaml.safe_load(path.read_text())
        return cls(**{**data, "date": str(data["date"])})

    def monthly(self, size: str, memory_mb: int, running: bool, volume_gb: int) -> float:
        """Estimated cost per month (``currency``, rounded to cents) of one gateway: a machine of
        ``size`` (a Fly size name) with ``memory_mb`` MB, running or stopped, and a ``volume_gb``
        GB volume. Raises KeyError for a size missing from the price list."""
        machine = 0.0
        if running:
            extra_gb = max(0, memory_mb - FLY_SIZES[size][2]) / 1024
            machine = self.machine_month[size] + extra_gb * self.additional_ram_gb_month
        return round(machine + volume_gb * self.volume_gb_month, 2)
