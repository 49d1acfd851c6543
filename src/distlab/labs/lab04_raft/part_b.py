"""Part B's checks: log replication, after MIT 6.5840's tests of its part 3B.

The lab's client (`distlab.labs.lab04_raft.tester`) submits commands once a leader is elected
(`START`, 1 s), and each check watches them applied: by every server, by a majority, or by
none while no majority can be reached, within `AGREE_WITHIN`. Faults are partitions (a server
cut off, then back), as in 6.5840's part 3B; crashes with restarts wait for part C, where the
log becomes durable. Every run judges part A's rules and the log's (`LogRules`) after every
event.
"""

from __future__ import annotations

from collections.abc import Callable

from distlab.check import ExplorationResult, explore
from distlab.consensus.raft.invariants import at_most_one_leader_per_term, log_matching
from distlab.consensus.raft.messages import Entry
from distlab.grading.lab import Scenario, Trial, graded
from distlab.labs.lab04_raft.common import (ELECTION_TIMEOUT, EXPLORE_SECONDS, EXPLORE_STATES,
                                            HEARTBEAT_INTERVAL, instrumented, refuse_library_raft,
                                            servers)
from distlab.labs.lab04_raft.faults import leaders
from distlab.labs.lab04_raft.part_a import PartA
from distlab.labs.lab04_raft.replication import (REQUEST_BYTES, Agreement, FastBackup, LogRules,
                                                 MessageBudget, Phase, wire_bytes)
from distlab.labs.lab04_raft.tester import BigCommand, add_tester, split, submit, with_service
from distlab.sim import Network, Node, Simulation, Uniform
from distlab.sim.helpers import node_ids

#: when the checks submit the first command: a leader is elected by then (nearly always: the
#: client submits again until one is)
START = 1_000.0
#: when the checks break something, and how long they give the cluster to recover
FAULT_AT, PHASE = 1_500.0, 1_000.0
#: how long a cluster may take to apply a command once its leader has failed, or once every
#: fault is repaired, in ms: the election may split votes a few times (with one server of five
#: down, about one election in four does), and the client submits again only every `RETRY` ms
RECOVER_WITHIN = 1_500.0
#: the node attributes the log's rules read (`instrumented` shows the log as ``_lab_log``)
LOG_ATTRIBUTES = ("_lab_log", "commit_index")
#: the exploration of part B: schedule length
EXPLORE_LOG_DEPTH = 5
#: the size of each command of `RaftLab.test_rpc_bytes_B`, in bytes (6.5840's are 5,000)
COMMAND_BYTES = 1_000


def log_safety() -> list:
    """The properties every check from part B on judges: part A's rules, then the log's, in
    one pass (`LogRules`)."""
    return [LogRules(shortest_timeout=ELECTION_TIMEOUT[0])]


def requests_per_second(peers: int, seconds: float, commands: int = 0) -> int:
    """The most requests a leader needs over ``seconds`` of its term: an AppendEntries to each
    of its ``peers`` every `HEARTBEAT_INTERVAL`, two more for each command (the news, and
    the next commit index), and a few for an election."""
    beats = seconds * 1000 / HEARTBEAT_INTERVAL
    return round(peers * (beats + 2 * commands + 5))


Fault = Callable[[Simulation], None]


class PartB(PartA):
    """Part B's checks: log replication (see the module's docstring)."""

    def replicated(self, n: int, run_for: float, plan: list[tuple[float, int]],
                   faults: list[tuple[float, Fault]] = (), once: list[tuple[float, int]] = (),
                   snapshot_every: int | tuple[int, ...] | None = None
                   ) -> Callable[[Simulation], None]:
        """A setup: ``n`` servers (with the service asking for a snapshot every
        ``snapshot_every`` applied entries, from part D); the client submitting ``plan``
        (again and again until applied) and ``once`` (only once); ``faults``, each ``(time,
        function of the simulation)``."""
        def setup(sim: Simulation) -> None:
            if snapshot_every is None:
                self.cluster(n)(sim)
            else:
                sim.add_nodes(with_service(instrumented(self.node), snapshot_every),
                              node_ids(n, first=1))
            add_tester(sim, plan, retry_until=run_for)
            submit(sim, once)
            for time, fault in faults:
                sim.at(time, fault, sim)

        return setup

    def scenario(self, n: int, run_for: float, plan: list[tuple[float, int]], *properties,
                 faults: list[tuple[float, Fault]] = (), once: list[tuple[float, int]] = (),
                 network: Network | None = None, wall_limit: float = 4.0,
                 snapshot_every: int | tuple[int, ...] | None = None) -> Scenario:
        """A scenario of part B on (see `replicated`): the log's safety, then ``properties``.
        ``wall_limit`` (seconds of real time a run may take) leaves room for a busy machine:
        the longest runs take a few hundred ms."""
        return Scenario(self.replicated(n, run_for, plan, faults, once, snapshot_every),
                        run_for=run_for, properties=[*log_safety(), *properties],
                        network=network or Network(latency=Uniform(1, 10)),
                        node_attributes=LOG_ATTRIBUTES if snapshot_every is None else
                        (*LOG_ATTRIBUTES, "_lab_snapshot"), wall_limit=wall_limit)

    @graded(part="B", seeds=20, description="3 servers, reliable network: three commands, "
            "one every 200 ms, each applied by every server within 1 s")
    def test_basic_agreement_B(self, seed: int) -> Scenario:
        plan = [(START + 200 * i, 101 + i) for i in range(3)]
        return self.scenario(3, 2_500, plan, Agreement())

    @graded(part="B", seeds=20, description="3 servers: ten commands of 1,000 bytes, one every "
            "100 ms, each sent to each follower at most twice (once, and again in a heartbeat "
            "that crosses its acknowledgement): in that second the requests weigh at most 2 x 2 "
            "followers x the entries' bytes, plus the requests' own fields")
    def test_rpc_bytes_B(self, seed: int) -> Scenario:
        commands = [BigCommand.of(101 + i, COMMAND_BYTES) for i in range(10)]
        most = requests_per_second(2, 1, 10)
        entries = sum(wire_bytes(Entry(9_999, command)) for command in commands)
        size = 2 * 2 * entries + most * REQUEST_BYTES
        return self.scenario(3, 3_000, [(START + 100 * i, c) for i, c in enumerate(commands)],
                             Agreement(),
                             MessageBudget(START, START + 1_000, most, size=size,
                                           why="ten commands of 1,000 bytes, two followers"))

    @graded(part="B", seeds=20, description="3 servers; a follower crashes at 1.5 s: a command "
            "is applied by the other two; the second follower crashes at 2.5 s: a command "
            "submitted then is applied by no one")
    def test_follower_failure_B(self, seed: int) -> Scenario:
        def crash_a_follower(sim: Simulation) -> None:
            follower = sorted(set(servers(sim)) - set(sim.crashed) - set(leaders(sim)))[:1]
            for node_id in follower:
                sim.crash(node_id)

        second = FAULT_AT + PHASE
        plan = [(START, 101), (FAULT_AT + 100, 102), (second + 100, 103)]
        return self.scenario(3, second + 1_500, plan,
                             Agreement(Phase(end=FAULT_AT), Phase(FAULT_AT, second, 2),
                                       Phase(second, second + 1_500, 0)),
                             faults=[(FAULT_AT, crash_a_follower), (second, crash_a_follower)])

    @graded(part="B", seeds=20, description="3 servers; the leader is cut off at 1.5 s: the "
            "other two elect a leader and apply a command; at 2.5 s it is cut off too: a "
            "command submitted to the last server is applied by no one")
    def test_leader_failure_B(self, seed: int) -> Scenario:
        alone: list[str] = []

        def cut_off_the_leader(sim: Simulation) -> None:
            alone.extend(leaders(sim)[:1])
            rest = set(servers(sim)) - set(alone)
            split(sim, rest, *({node_id} for node_id in alone))

        second = FAULT_AT + PHASE
        plan = [(START, 101), (FAULT_AT + 100, 102), (second + 100, 103)]
        return self.scenario(3, second + 1_500, plan,
                             Agreement(Phase(end=FAULT_AT), Phase(FAULT_AT, second, 2),
                                       Phase(second, second + 1_500, 0)),
                             faults=[(FAULT_AT, cut_off_the_leader),
                                     (second, cut_off_the_leader)])

    @graded(part="B", seeds=20, description="3 servers; a follower is cut off from 1.5 s to "
            "2.5 s: the other two apply four commands; after the heal the follower catches up "
            "and every server applies a new command")
    def test_agreement_despite_disconnected_follower_B(self, seed: int) -> Scenario:
        def cut_off_a_follower(sim: Simulation) -> None:
            follower = sorted(set(servers(sim)) - set(leaders(sim)))[:1]
            split(sim, set(servers(sim)) - set(follower), set(follower))

        heal = FAULT_AT + PHASE
        plan = [(START, 101), *((FAULT_AT + 100 + 50 * i, 102 + i) for i in range(4)),
                (heal + 100, 106)]
        return self.scenario(3, heal + 1_100, plan,
                             Agreement(Phase(end=FAULT_AT), Phase(FAULT_AT, heal, 2),
                                       Phase(heal)),
                             faults=[(FAULT_AT, cut_off_a_follower), (heal, Simulation.heal)])

    @graded(part="B", seeds=20, description="5 servers; three followers are cut off from 1.5 s "
            "to 3 s: a command submitted to the leader is applied by no one; after the heal, "
            "a new command is applied by all five")
    def test_no_agreement_without_majority_B(self, seed: int) -> Scenario:
        def cut_off_three(sim: Simulation) -> None:
            leader = leaders(sim)[:1]
            followers = sorted(set(servers(sim)) - set(leader))
            split(sim, {*leader, *followers[:1]}, set(followers[1:]))

        heal = FAULT_AT + 1_500
        plan = [(START, 101), (FAULT_AT + 100, 102), (heal + 200, 103)]
        return self.scenario(5, heal + 1_200, plan,
                             Agreement(Phase(end=FAULT_AT), Phase(FAULT_AT, heal, 0),
                                       Phase(heal)),
                             faults=[(FAULT_AT, cut_off_three), (heal, Simulation.heal)])

    @graded(part="B", seeds=20, description="3 servers: five commands submitted at the same "
            "moment, each applied by every server within 1 s")
    def test_concurrent_submissions_B(self, seed: int) -> Scenario:
        plan = [(START, 101 + i) for i in range(5)]
        return self.scenario(3, START + 1_000, plan, Agreement())

    @graded(part="B", seeds=20, description="3 servers; the leader is cut off at 1.5 s and takes "
            "three commands it cannot commit; the others commit one; then the new leader is "
            "cut off and the old one comes back: its uncommitted entries are replaced, and "
            "after the heal every server applies a last command")
    def test_rejoin_of_partitioned_leader_B(self, seed: int) -> Scenario:
        first: list[str] = []

        def cut_off_the_leader(sim: Simulation) -> None:
            first.extend(leaders(sim)[:1])
            split(sim, set(first), set(servers(sim)) - set(first))

        def turn_to_the_others(sim: Simulation) -> None:
            split(sim, set(servers(sim)) - set(first), set(first))

        def swap_leaders(sim: Simulation) -> None:
            second = [n for n in leaders(sim) if n not in first][:1]
            split(sim, set(servers(sim)) - set(second), set(second))

        turn, swap, heal = FAULT_AT + PHASE, FAULT_AT + 2 * PHASE, FAULT_AT + 3 * PHASE
        plan = [(START, 101), (turn + 100, 105), (swap + 100, 106), (heal + 100, 107)]
        once = [(FAULT_AT + 50 + i, 102 + i) for i in range(3)]
        return self.scenario(3, heal + 1_100, plan,
                             Agreement(Phase(end=FAULT_AT), Phase(turn, heal, 2),
                                       Phase(heal)),
                             faults=[(FAULT_AT, cut_off_the_leader), (turn, turn_to_the_others),
                                     (swap, swap_leaders), (heal, Simulation.heal)],
                             once=once)

    @graded(part="B", seeds=20, description="5 servers; the leader and a follower, cut off, "
            "take 50 commands they cannot commit while the other three commit 50; at the heal "
            "the new leader crashes, and the next one must back up over the long divergent "
            "logs of the two, a term at a time (at most one refusal per term of the two logs, "
            "plus one): all four apply a new command within 1.5 s (an election's time after a "
            "failure)")
    def test_backup_over_divergent_logs_B(self, seed: int) -> Scenario:
        minority: list[str] = []

        def cut_off_the_leader_and_one(sim: Simulation) -> None:
            leader = leaders(sim)[:1]
            follower = sorted(set(servers(sim)) - set(leader))[:1]
            minority.extend(leader + follower)
            split(sim, set(minority), set(servers(sim)) - set(minority))

        def turn_to_the_majority(sim: Simulation) -> None:
            split(sim, set(servers(sim)) - set(minority), set(minority))

        def heal_and_crash_the_leader(sim: Simulation) -> None:
            sim.heal()
            for node_id in leaders(sim)[:1]:
                sim.crash(node_id)

        turn, heal = FAULT_AT + PHASE, FAULT_AT + 2 * PHASE
        plan = [(START, 101), *((turn + 50 + 2 * i, 2_001 + i) for i in range(50)),
                (heal + 50, 3_001)]
        once = [(FAULT_AT + 50 + i, 1_001 + i) for i in range(50)]
        return self.scenario(5, heal + 100 + RECOVER_WITHIN, plan,
                             Agreement(Phase(end=FAULT_AT), Phase(turn, heal, 3),
                                       Phase(heal, count=4, within=RECOVER_WITHIN)),
                             FastBackup(),
                             faults=[(FAULT_AT, cut_off_the_leader_and_one),
                                     (turn, turn_to_the_majority),
                                     (heal, heal_and_crash_the_leader)],
                             once=once, wall_limit=8.0)  # (a hundred entries on five logs)

    @graded(part="B", seeds=20, description="3 servers: few requests for an election and "
            "heartbeats (in the first second) and for ten commands submitted at once (in the "
            "next second)")
    def test_rpc_count_B(self, seed: int) -> Scenario:
        plan = [(START, 101 + i) for i in range(10)]
        return self.scenario(3, START + 1_000, plan, Agreement(),
                             MessageBudget(0, START, requests_per_second(2, START / 1000),
                                           why="an election and heartbeats"),
                             MessageBudget(START, START + 1_000,
                                           requests_per_second(2, 1, 10),
                                           why="ten commands, two followers"))

    @graded(part="B", seeds=20, description="3 servers, one command, then idle: the requests "
            "of an idle half second do not grow with time (from 1.5 s to 2 s, and from 3.5 s "
            "to 4 s)")
    def test_idle_rpc_count_B(self, seed: int) -> Scenario:
        most = requests_per_second(2, 0.5)
        return self.scenario(3, 4_000, [(START, 101)], Agreement(),
                             MessageBudget(1_500, 2_000, most, why="idle, after one command"),
                             MessageBudget(3_500, 4_000, most, why="idle, two seconds later"))

    @graded(part="B", seeds=1, description="every schedule of up to 5 steps of 3 servers and "
            "one command, one server of which may crash, explored exhaustively: at most one "
            "leader per term, and Log Matching")
    def test_explore_log_safety_B(self, seed: int) -> Trial:
        return self.exploration(explore_log, "explore_log")


def explore_log(node: type[Node], *, max_depth: int = EXPLORE_LOG_DEPTH,
                max_states: int = EXPLORE_STATES, time_budget: float = EXPLORE_SECONDS,
                restarts: bool = False) -> ExplorationResult:
    """Every schedule of up to ``max_depth`` steps of three servers of class ``node`` and the
    lab's client submitting one command, one server of which may crash (and, with
    ``restarts``, restart): the first (shortest) that breaks Election Safety or Log Matching.
    """
    refuse_library_raft(node)

    def setup(sim: Simulation) -> None:
        sim.add_nodes(node, ["n1", "n2", "n3"])
        add_tester(sim, [(0.0, 1)])

    return explore(setup, [at_most_one_leader_per_term(role_attr="state"), log_matching()],
                   crashes=1, restarts=restarts, crashable=["n1", "n2", "n3"],
                   max_depth=max_depth, max_states=max_states, time_budget=time_budget)

