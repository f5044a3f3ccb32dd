"""Plant every scenario and look-alike of ``scenarios.Plan`` into a simulation's ``mods``."""

from __future__ import annotations

from centinela.config import Settings
from centinela.generate import plant_mill, plant_people, plant_supply
from centinela.generate.catalog import FastRandom
from centinela.generate.scenarios import Plan
from centinela.generate.sim import Mods
from centinela.generate.world import World


def plan(world: World, rng: FastRandom, mods: Mods, settings: Settings,
         mill_rng: FastRandom | None = None) -> Plan:
    """Choose and wire every planted scenario and look-alike into ``mods``.

    The prescription mill and its look-alikes come last, from ``mill_rng`` (a stream of their
    own), so the scenarios planted before them keep their draws."""
    p = Plan(world, rng, mods, settings)
    plant_supply.prepare(p)
    plant_people.plant(p)
    plant_supply.plant(p)
    if mill_rng is not None:
        plant_mill.plan(p, mill_rng)
    return p
