"""The pool's tick: every graph read and observed at one time (one snapshot), planned by
one PoolPlanner, then applied, graphs that give GPUs back first.

A failed read or observation of any graph fails the whole tick (counted and backed off
like a one-graph tick). Every graph's decision is written even when another graph's
write failed or was deferred (a change not settled yet, not the leader); nothing is
re-applied: the next tick decides every graph again from fresh state. Each graph gets
one log line per tick (``graph=<name>``, its pool grant, ``preempted_by=`` when cut
for a higher priority, its dollars per hour).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass

from connectors.protocols import ApplyReason, Connector, GraphState, MetricsSource
from planner.clock import ServiceClock
from planner.core.attainment import share_within
from planner.core.types import Observation
from planner.errors import ConnectorError
from planner.pool.capacity import pool_cap_gpus
from planner.pool.planner import PoolDecision, PoolPlanner
from planner.pool.pricing import CostMeter
from planner.service.grid import GridLoop
from planner.service.telemetry import Telemetry
from planner.service.tick import TickRecord, tick_dict, tick_line
from planner.settings import PlannerSettings

log = logging.getLogger("sla_planner.tick")
#: apply outcomes that are the connector declining on purpose, not failing
_DEFERRALS = frozenset({ApplyReason.UNSETTLED, ApplyReason.NOT_LEADER})


@dataclass
class GraphLink:
    """One graph's outside world: where its metrics come from, where its replicas go."""

    source: MetricsSource
    connector: Connector
    cost: CostMeter
    ttft_ms: float


class PoolService(GridLoop):
    def __init__(
        self,
        *,
        settings: PlannerSettings,
        pool: PoolPlanner,
        links: dict[str, GraphLink],
        telemetry: Telemetry,
        clock: ServiceClock,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.links = links
        self.telemetry = telemetry
        self.clock = clock
        self.advisory = settings.service.advisory
        self.observed_once = False
        self.consecutive_failures = 0
        self._index = 0
        self._last_s: float | None = None
        self.last: PoolDecision | None = None

    async def probe(self) -> None:
        window = self.settings.interval_s
        obs = await asyncio.gather(
            *(k.source.observe(window_s=window) for k in self.links.values())
        )
        self.observed_once = self.observed_once or any(not o.is_missing for o in obs)

    async def _snapshot(self) -> tuple[dict[str, GraphState], dict[str, Observation]]:
        names = list(self.links)
        states = await asyncio.gather(*(self.links[n].connector.read() for n in names))
        window = self.settings.interval_s
        raws = await asyncio.gather(*(self.links[n].source.observe(window_s=window) for n in names))
        graphs = dict(zip(names, states, strict=True))
        obs = {
            n: dataclasses.replace(
                raw,
                current_replicas=graphs[n].desired,
                ready_replicas=graphs[n].ready,
                gpus_per_worker=graphs[n].gpus_per_worker,
            )
            for n, raw in zip(names, raws, strict=True)
        }
        return graphs, obs

    def _held_gpus(self, name: str, graph: GraphState) -> int:
        """GPUs graph ``name``'s desired workers hold (each worker's real GPUs)."""
        config = self.pool.planners[name].config
        return sum(
            st.desired * config.gpus_per_worker(c, reading=st.gpus_per_worker).gpus
            for c, st in graph.components.items()
        )

    def _account(
        self, now: float, graphs: dict[str, GraphState], obs: dict[str, Observation]
    ) -> None:
        """Dollars for the interval that just ended, at the GPUs each graph held."""
        seconds = 0.0 if self._last_s is None else max(0.0, now - self._last_s)
        self._last_s = now
        for n, link in self.links.items():
            gpus = self._held_gpus(n, graphs[n])
            before = link.cost.usd
            link.cost.hold(gpus=float(gpus), seconds=seconds)
            o = obs[n]
            if o.ttft_buckets:
                share = share_within(o.ttft_buckets, link.ttft_ms / 1000.0)
                if share is not None:
                    link.cost.served(share.low * max(c for _, c in o.ttft_buckets))
            self.telemetry.pool.cost(
                n,
                usd_per_hour=link.cost.usd_per_hour,
                usd=link.cost.usd - before,
                per_1k=link.cost.usd_per_1k_good,
            )

    async def tick(self) -> PoolDecision | None:
        """One snapshot -> plan -> arbitrate -> apply for every graph; never raises."""
        self._index += 1
        now = self.clock.now_s()
        started = time.perf_counter()
        kind: str | None = None
        detail = ""
        out: PoolDecision | None = None
        obs: dict[str, Observation] = {}
        applied: dict[str, bool | None] = {n: None for n in self.links}
        try:
            graphs, obs = await self._snapshot()
            self.observed_once = self.observed_once or any(not o.is_missing for o in obs.values())
            self._account(now, graphs, obs)
            cap = pool_cap_gpus(
                caps={
                    n: g.capacity.gpus if g.capacity is not None else None
                    for n, g in graphs.items()
                },
                own_gpus={n: self._held_gpus(n, graphs[n]) for n in graphs},
            )
            out = await asyncio.to_thread(self.pool.step, obs, now=now, cap_gpus=cap)
            self.telemetry.pool.arbitration(out.result)
            # givers first: the graph releasing the most GPUs writes first
            order = sorted(out.decisions, key=lambda n: _change_gpus(out, graphs, n))
            failed: list[str] = []
            for n in order:  # every graph is written even when another's write failed
                d = out.decisions[n]
                if self.advisory or d.targets == graphs[n].desired:
                    continue
                res = await self.links[n].connector.apply(
                    d.targets, decision_id=f"tick-{self._index}-{n}"
                )
                applied[n] = res.applied
                if res.applied:
                    continue
                if res.reason in _DEFERRALS:  # by design: the next tick decides again
                    log.info("apply of %s deferred (%s): %s", n, res.reason, res.message)
                else:
                    failed.append(f"apply of {n} failed ({res.reason}): {res.message}")
            if failed:
                raise ConnectorError("; ".join(failed))
        except asyncio.CancelledError:
            raise
        except ConnectorError as exc:
            kind, detail = "connector", str(exc)
        except Exception as exc:
            kind, detail = "internal", f"{type(exc).__name__}: {exc}"
            log.exception("pool tick %d failed", self._index)
        duration = time.perf_counter() - started
        self.consecutive_failures = self.consecutive_failures + 1 if kind else 0
        self.telemetry.record(
            TickRecord(
                index=self._index,
                time_s=now,
                duration_s=duration,
                observation=None,
                decision=None,
                applied=None,
                advisory=self.advisory,
                error_kind=kind,
                error=detail,
            )
        )
        self.last = out
        for n, link in self.links.items():
            rec = TickRecord(
                index=self._index,
                time_s=now,
                duration_s=duration,
                observation=obs.get(n),
                decision=out.decisions[n] if out is not None else None,
                applied=applied[n],
                advisory=self.advisory,
                error_kind=kind,
                error=detail,
            )
            pool: dict[str, object] = {"usd_per_hour": round(link.cost.usd_per_hour, 4)}
            if out is not None:
                g = out.result.grants[n]
                pool |= {"asked_gpus": g.asked_gpus, "granted_gpus": g.granted_gpus}
                if g.preempted_by:
                    pool["preempted_by"] = g.preempted_by
            if self.settings.service.log_format == "json":
                log.info("tick %d", rec.index, extra={"graph": n, **tick_dict(rec), "pool": pool})
                continue
            extra = [f"usd_per_h={link.cost.usd_per_hour:.2f}"]
            if out is not None:
                g = out.result.grants[n]
                extra.insert(0, f"pool_gpus={g.granted_gpus}/{g.asked_gpus}")
                if g.preempted_by:
                    extra.append(f"preempted_by={g.preempted_by}")
            log.info("graph=%s %s %s", n, tick_line(rec), " ".join(extra))
        return out


def _change_gpus(out: PoolDecision, graphs: dict[str, GraphState], name: str) -> int:
    """GPUs graph ``name`` gains (< 0: gives back) if its decision is applied."""
    d = out.decisions[name]
    return sum(
        (cd.target - graphs[name].desired.get(c, 0)) * cd.gpus_per_worker
        for c, cd in d.components.items()
    )
