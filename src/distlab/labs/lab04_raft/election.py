"""Part A's rules: leader election (Ongaro and Ousterhout 2014, section 5.2 and Figure 2).

`ElectionRules` checks, after every event (`RULES`): a server's term only grows, across
restarts too; a RequestVote or AppendEntries of a lower term than the receiver's is refused and
changes nothing; a server grants at most one vote per term; a request or reply with a higher
term makes the receiver adopt it and become a follower; only a leader sends AppendEntries, and
a new leader sends them at once; a candidate that has not won starts a new election within the
longest election timeout; a server starts an election only after a full election timeout
without granting a vote or hearing from the leader; a leader of term T got votes of term T
from a majority; at most one leader per term, over the whole run (Election Safety). Each is
judged when a server acts (a message is judged by what its sender was when it sent it, not
when it arrives). Over a stretch of time: `LeaderElected`, `NoNeedlessElections`, `NoLeader`.
"""

from __future__ import annotations

from collections import defaultdict

from distlab.consensus.raft.messages import (AppendEntries, AppendEntriesReply, InstallSnapshot,
                                             RequestVote, RequestVoteReply)
from distlab.grading.properties import Run, Violation
from distlab.labs.lab04_raft.common import (ELECTION_TIMEOUT, ROLE_COLORS, TESTER, RaftRule, Rule,
                                            Rulebook, as_int, describe_servers, fact_sets,
                                            leaders_among, majority, servers, step_shape,
                                            vote_grants, your_line)

# -- safety: the rules of Figure 2 -------------------------------------------------------------

#: what each safety rule demands, in words (a report names the first one broken)
RULES = {
    "names": "state is 'follower', 'candidate' or 'leader', and term a whole number",
    "term": "a server's term never decreases, across restarts too",
    "stale_vote": "a vote is granted only to a request of the voter's current term",
    "stale_append": "an AppendEntries of a lower term than the receiver's is refused, with "
                    "the receiver's term, and changes nothing: neither its term, role nor vote, "
                    "nor (from part B) its log or commit index",
    "vote": "each server grants at most one vote per term",
    "adopt": "a server that receives a higher term adopts it and becomes a follower",
    "only_leader": "only a leader sends AppendEntries, of its own term",
    "first_heartbeat": "a new leader sends AppendEntries to every other server at once",
    "candidate_timer": "a candidate starts a new election if it has not won within the "
                       "longest election timeout",
    "timer": "a server starts an election only after a full election timeout without a vote "
             "granted or a word from the leader",
    "majority": "a leader of term T has the votes of a majority, cast in term T",
    "safety": "at most one leader per term",
}


class ElectionRules(RaftRule):
    """The safety rules of leader election, checked after every event, in one pass.

    Each rule is one method that returns None or what is wrong; after an event they are
    asked in the order of `RULES`, from the most specific to Election Safety itself, so that
    a double vote is reported as the double vote rather than as the two leaders it leads to.
    One property rather than five, and each rule looks only at what the event changed: the
    grader reads the record of a run once per event, not five times.
    """

    description = "the rules of leader election (Figure 2)"

    def __init__(self, shortest_timeout: float):
        self.shortest_timeout = shortest_timeout

    def begin(self, run: Run) -> None:
        super().begin(run)
        state = run.state
        state.reset = {}                    # node -> (when its election timer last restarted, why)
        state.highest = {}                  # node -> the highest term it has had
        state.restarts = defaultdict(list)  # node -> when it restarted
        state.votes = {}                    # (voter, term) -> (candidate, time)
        state.granted = defaultdict(set)    # (candidate, term) -> voters whose votes arrived
        state.leaders = {}                  # term -> (its first leader, since when)
        state.voted = {}                    # node -> its voted_for, as last seen

    def observe(self, run: Run) -> Violation | None:
        before = dict(run.state.seen)  # (term, state) of each server before this event
        changed = self.follow(run)
        events = run.new_events()
        return self.judge_election(run, events, step_shape(events), before, changed)

    def judge_election(self, run: Run, events: list, shape: frozenset, before: dict,
                       changed: list[str]) -> Violation | None:
        """The first rule of `RULES` that the last event broke, given its ``events`` (and
        their ``shape``, `step_shape`), each server's (term, state) ``before`` it, and the
        servers whose (term, state) it ``changed``; None if it broke none."""
        if not (events or changed):
            return None  # every rule reads what an event did or a server changed
        facts = _FACTS[bool(changed), bool(run.state.candidates)]
        broken = ELECTION_RULEBOOK.judged(self, shape, facts, run, events, before, changed)
        if broken is not None:
            rule, problem = broken
            return self.failure(run, problem, description=RULES[rule])
        voted, nodes = run.state.voted, run.sim.nodes
        for node_id in {event.node for event in events if event.node in nodes}:
            voted[node_id] = getattr(nodes[node_id], "voted_for", None)  # (what acted)
        return None

    def uses_the_names(self, run: Run, events: list, before: dict,
                       changed: list[str]) -> str | None:
        for node_id in changed:
            term, state = run.state.seen[node_id]
            if state == "down":
                continue
            if state not in ROLE_COLORS:
                return (f"{node_id}'s state is {state!r}: it must be one of 'follower', "
                        f"'candidate', 'leader' (the checks read self.state)")
            if type(term) is not int:
                return (f"{node_id}'s term is {term!r}: it must be a whole number, 0 at first "
                        f"(the checks read self.term)")
        return None

    def term_never_decreases(self, run: Run, events: list, before: dict,
                             changed: list[str]) -> str | None:
        for event in events:
            if event.kind == "restart":
                run.state.restarts[event.node].append(event.time)
        highest = run.state.highest
        for node_id in changed:
            term = run.state.seen[node_id][0]
            if type(term) is not int:
                continue
            old = highest.get(node_id, term)
            if term < old:
                restarts = run.state.restarts[node_id]
                why = (f" when it restarted (t={restarts[-1]:.3f} ms): keep term and voted_for "
                       f"in self.storage, and read them back in __init__, so that a restarted "
                       f"server remembers them" if restarts else ": a term may only grow")
                return f"{node_id}'s term went back from {old} to {term}{why}"
            highest[node_id] = max(old, term)
        return None

    def refuses_stale_votes(self, run: Run, events: list, before: dict,
                            changed: list[str]) -> str | None:
        stale = [e for e in events if e.kind == "deliver" and isinstance(e.data, RequestVote)
                 and lower_term(e.data, before.get(e.node))]
        for request in stale:
            for event in vote_grants(events):
                if event.node == request.node and event.peer == request.peer:
                    return (f"{request.node} (term {before[request.node][0]}) granted its vote "
                            f"to {request.data!r} from {request.peer}, a request of an older "
                            f"term: refuse a RequestVote whose term is lower than yours "
                            f"(vote_granted=False, with your term), grant only one of your "
                            f"current term" + your_line(run.sim.nodes[request.node], "vote"))
        return None

    def refuses_stale_appends(self, run: Run, events: list, before: dict,
                              changed: list[str]) -> str | None:
        for request in events:
            if not (request.kind == "deliver" and isinstance(request.data, AppendEntries)
                    and lower_term(request.data, before.get(request.node))):
                continue
            node_id, (term, state) = request.node, before[request.node]
            had = (f"{node_id} ({state}, term {term}) received {request.data!r} from "
                   f"{request.peer}, of an older term")
            now = run.state.seen.get(node_id)
            if now != (term, state):
                return (f"{had}, and became {now[1]} of term {now[0]}: an AppendEntries of a "
                        f"lower term comes from a stale leader; refuse it and change nothing"
                        + your_line(run.sim.nodes[node_id], "state"))
            voted = run.state.voted.get(node_id)
            voted_now = getattr(run.sim.nodes[node_id], "voted_for", None)
            if voted_now != voted:
                return (f"{had}, and changed voted_for from {voted!r} to {voted_now!r}: an "
                        f"AppendEntries of a lower term comes from a stale leader; refuse it "
                        f"and change nothing (a vote of your term forgotten could be cast "
                        f"again, to another candidate)")
            replies = [e.data for e in events if e.kind == "send" and e.node == node_id
                       and e.peer == request.peer and isinstance(e.data, AppendEntriesReply)]
            if not any(r.term == term and r.success is False for r in replies):
                got = f"answered {replies[0]!r}" if replies else "did not answer"
                return (f"{had}, and {got}: answer AppendEntriesReply(term={term}, "
                        f"success=False), so that the stale leader learns the newer term and "
                        f"steps down")
        return None

    def one_vote(self, run: Run, events: list, before: dict, changed: list[str]) -> str | None:
        for event in events:
            msg = event.data
            if event.kind != "send" or not isinstance(msg, RequestVoteReply):
                continue
            if not msg.vote_granted:
                continue
            first = run.state.votes.setdefault((event.node, msg.term), (event.peer, event.time))
            if first[0] != event.peer:
                voter = event.node
                between = [t for t in run.state.restarts[voter] if first[1] < t <= event.time]
                hint = (f"it restarted in between (t={between[0]:.3f} ms) and forgot its vote: "
                        f"keep voted_for in self.storage" if between else
                        "grant a vote only if voted_for is None or already that candidate, "
                        "and set voted_for when you grant it")
                return (f"{voter} granted its vote in term {msg.term} to {first[0]} "
                        f"(t={first[1]:.3f} ms) and to {event.peer} (t={event.time:.3f} ms): "
                        f"{hint}" + your_line(run.sim.nodes[voter], "vote"))
        return None

    def adopts_higher_terms(self, run: Run, events: list, before: dict,
                            changed: list[str]) -> str | None:
        for event in events:
            if event.kind != "deliver":
                continue
            term = as_int(getattr(event.data, "term", None))
            old_term, old_state = before.get(event.node, (None, None))
            if term is None or type(old_term) is not int or term <= old_term:
                continue
            now_term, now_state = run.state.seen.get(event.node, (None, None))
            had = f"{event.node} ({old_state}, term {old_term}) received {event.data!r}"
            if now_term != term:
                return (f"{had} from {event.peer} and then had term {now_term}: on any "
                        f"request or reply with a higher term, set term to it (and voted_for "
                        f"to None) and become a follower")
            if now_state != "follower":
                return (f"{had} from {event.peer}, adopted term {term} but stayed "
                        f"{now_state}: a higher term means another server may lead; become "
                        f"a follower" + your_line(run.sim.nodes[event.node], "state"))
        return None

    def only_leaders_append(self, run: Run, events: list, before: dict,
                            changed: list[str]) -> str | None:
        # judged at send time: as leader before this event or after it (a candidate that
        # wins sends at once), whatever becomes of the server while the message travels
        for event in events:
            if event.kind != "send" or not isinstance(event.data, AppendEntries):
                continue
            term = as_int(getattr(event.data, "term", None))
            node_id = event.node
            if (term, "leader") in (before.get(node_id), run.state.seen.get(node_id)):
                continue
            now_term, now_state = run.state.seen.get(node_id, (None, None))
            return (f"{node_id} sent {event.data!r} to {event.peer} as {now_state} of term "
                    f"{now_term}: only the leader of a term sends AppendEntries, with that "
                    f"term; a leader that steps down stops its \"heartbeat\" timer (or ignores "
                    f"it when it fires), else its heartbeats keep the others from electing a "
                    f"new leader" + your_line(run.sim.nodes[node_id], "state"))
        return None

    def new_leader_appends_at_once(self, run: Run, events: list, before: dict,
                                   changed: list[str]) -> str | None:
        for node_id, term in leaders_among(run, changed):
            reached = {e.peer for e in events if e.kind == "send" and e.node == node_id
                       and isinstance(e.data, (AppendEntries, InstallSnapshot))
                       and as_int(getattr(e.data, "term", None)) == term}
            missing = sorted(set(servers(run.sim)) - reached - {node_id})
            if missing:
                return (f"{node_id} became leader of term {term} at t={run.sim.now:.3f} ms "
                        f"without sending AppendEntries to {', '.join(missing)}: on winning, "
                        f"send heartbeats to every other server at once (then every "
                        f"HEARTBEAT_INTERVAL ms), so that the others follow it before their "
                        f"election timers fire" + your_line(run.sim.nodes[node_id], "state"))
        return None

    def candidate_times_out(self, run: Run, events: list, before: dict,
                            changed: list[str]) -> str | None:
        longest = ELECTION_TIMEOUT[1]
        for node_id, (term, state) in run.state.seen.items():
            if state != "candidate":
                continue
            since = run.state.roles[node_id][-1][0]  # when it became candidate of ``term``
            if run.sim.now - since > longest + 1e-6:
                return (f"{node_id} has been a candidate of term {term} since t={since:.3f} "
                        f"ms, more than the longest election timeout ({longest:g} ms): a "
                        f"split vote? When a candidate starts an election it sets its "
                        f"election timer again, to a new random timeout, so that an election "
                        f"without a winner is followed by another; and nothing else sets it "
                        f"while it is a candidate (a refused RequestVote leaves it alone)"
                        + your_line(run.sim.nodes[node_id], "state"))
        return None

    def waits_a_full_timeout(self, run: Run, events: list, before: dict,
                             changed: list[str]) -> str | None:
        reset = run.state.reset
        for event in events:
            msg = event.data
            if event.kind == "restart":
                reset[event.node] = (event.time, "it restarted")
            elif (event.kind == "note" and event.node == TESTER
                  and getattr(event.data, "what", None) == "elect"):
                target = dict(event.data.details).get("server")  # the lab starts its election
                reset[target] = (event.time - self.shortest_timeout, "the lab's script")
            elif (event.kind == "send" and isinstance(msg, RequestVoteReply)
                  and msg.vote_granted):
                reset[event.node] = (event.time, f"it granted its vote to {event.peer}")
            elif event.kind == "deliver" and isinstance(msg, AppendEntries):
                term = before.get(event.node, (None, None))[0]
                if type(term) is int and msg.term >= term:
                    reset[event.node] = (event.time, f"an AppendEntries of term {msg.term} "
                                                     f"from {event.peer} arrived")
        for node_id in changed:
            term, state = run.state.seen[node_id]
            if state != "candidate" or before.get(node_id) == (term, state):
                continue
            since, why = reset.get(node_id, (0.0, "it started"))
            reset[node_id] = (run.sim.now, "it became a candidate")
            waited = run.sim.now - since
            if waited < self.shortest_timeout - 1e-6:
                return (f"{node_id} started an election (term {term}) at t={run.sim.now:.3f} "
                        f"ms, only {waited:.1f} ms after {why} (t={since:.3f} ms): set the "
                        f"election timer again, to a new random timeout of at least "
                        f"{self.shortest_timeout:g} ms, each time the server grants a vote or "
                        f"hears from the leader of its term" + your_line(
                            run.sim.nodes[node_id], "state"))
        return None

    def leader_has_majority(self, run: Run, events: list, before: dict,
                            changed: list[str]) -> str | None:
        granted = run.state.granted
        for event in events:
            msg = event.data
            if (event.kind == "deliver" and isinstance(msg, RequestVoteReply)
                    and msg.vote_granted):
                granted[event.node, msg.term].add(event.peer)
        n = len(servers(run.sim))
        for node_id, term in leaders_among(run, changed):
            if type(term) is not int:
                continue
            voters = granted[node_id, term] | {node_id}
            if len(voters) >= majority(run):
                continue
            older = sorted({v for (c, t), vs in granted.items() if c == node_id and t < term
                            for v in vs})
            hint = (f"; it also had votes of earlier terms from {', '.join(older)}: count only "
                    f"the votes of the current term" if older else
                    f"; a majority of {n} is {n} // 2 + 1")
            return (f"{node_id} became leader of term {term} with the votes of "
                    f"{', '.join(sorted(voters))} only ({len(voters)} of {n}), but it needs "
                    f"{majority(run)}{hint}" + your_line(run.sim.nodes[node_id], "state"))
        return None

    def election_safety(self, run: Run, events: list, before: dict,
                        changed: list[str]) -> str | None:
        for node_id, term in leaders_among(run, changed):
            first, since = run.state.leaders.setdefault(term, (node_id, run.sim.now))
            if first != node_id:
                return (f"two leaders in term {term}: {first} (since t={since:.3f} ms) and "
                        f"{node_id} (now)" + your_line(run.sim.nodes[node_id], "state"))
        return None


#: the facts of a step that `ElectionRules` reads besides its events: "roles", a server's
#: role or term changed; "candidates", a server is a candidate (whose time may run out
#: without an event of its own)
_FACTS = fact_sets("roles", "candidates")
#: `ElectionRules`' rules, in the order of `RULES`, each with what it reads (`Rulebook`)
ELECTION_RULEBOOK = Rulebook(
    Rule("names", "uses_the_names", ("roles",)),
    Rule("term", "term_never_decreases", (("restart", None), "roles")),
    Rule("stale_vote", "refuses_stale_votes", (("deliver", RequestVote),)),
    Rule("stale_append", "refuses_stale_appends", (("deliver", AppendEntries),)),
    Rule("vote", "one_vote", (("send", RequestVoteReply),)),
    Rule("adopt", "adopts_higher_terms", (("deliver", None),)),
    Rule("only_leader", "only_leaders_append", (("send", AppendEntries),)),
    Rule("first_heartbeat", "new_leader_appends_at_once", ("roles",)),
    Rule("candidate_timer", "candidate_times_out", ("candidates",)),
    Rule("timer", "waits_a_full_timeout", (("restart", None), ("note", None),
                                            ("send", RequestVoteReply),
                                            ("deliver", AppendEntries), "roles")),
    Rule("majority", "leader_has_majority", (("deliver", RequestVoteReply), "roles")),
    Rule("safety", "election_safety", ("roles",)),
)


def lower_term(msg: object, receiver: tuple | None) -> bool:
    """Whether ``msg`` carries a lower term than its ``receiver``'s (term, state) before."""
    term = as_int(getattr(msg, "term", None))
    return (receiver is not None and type(receiver[0]) is int and term is not None
            and term < receiver[0])


# -- liveness, and quiet -----------------------------------------------------------------------

class LeaderElected(RaftRule):
    """Within ``within`` ms of ``since``: one leader, followed by every live server.

    With ``majority_only``, a *new* leader (of a term above every term at ``since``) followed
    by a majority: the side of a partition that has one elects it, while the old leader,
    cut off, may still believe it leads in its old term.
    """

    def __init__(self, since: float, within: float, *, majority_only: bool = False):
        self.since, self.within, self.majority_only = since, within, majority_only
        who = "a new leader, followed by a majority," if majority_only else (
            "one leader, followed by every live server,")
        after = "of the start" if since == 0 else f"of t={since / 1000:g} s"
        self.description = f"{who} within {within / 1000:g} s {after}"

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.done = False
        run.state.late = None        # what the servers were at the deadline, if not done
        run.state.first_term = None  # the highest term at ``since``

    def holds(self, run: Run) -> bool:
        live = {i: n for i, n in servers(run.sim).items() if i not in run.sim.crashed}
        terms = [as_int(getattr(n, "term", None)) for n in live.values()]
        if not live or None in terms:
            return False
        top = max(terms)
        on_top = [n for n in live.values() if n.term == top]
        leaders = [n for n in on_top if getattr(n, "state", None) == "leader"]
        if len(leaders) != 1 or any(getattr(n, "state", None) == "candidate" for n in on_top):
            return False
        if self.majority_only:
            return len(on_top) >= majority(run) and top > run.state.first_term
        return len(on_top) == len(live)

    def observe(self, run: Run) -> None:
        state = run.state
        if state.done or state.late is not None or run.sim.now < self.since:
            return None
        self.follow(run)
        if state.first_term is None:
            state.first_term = max((as_int(getattr(n, "term", None)) or 0
                                    for n in servers(run.sim).values()), default=0)
        if run.sim.now > self.since + self.within:
            state.late = self.at_deadline(run)
            return None
        state.done = self.holds(run)
        return None

    @staticmethod
    def at_deadline(run: Run) -> tuple[str, int]:
        """What a failure report says of the servers at the deadline: their roles and terms,
        and the highest term."""
        terms = (as_int(getattr(n, "term", None)) or 0 for n in servers(run.sim).values())
        return describe_servers(run), max(terms, default=0)

    def judge(self, run: Run) -> Violation | None:
        # (a server that sends AppendEntries without leading, and a candidate stuck after a
        # split vote, break `ElectionRules` before this deadline: they are reported there)
        if run.state.done:
            return None
        deadline = self.since + self.within
        servers, top = run.state.late or self.at_deadline(run)
        elections = top - (run.state.first_term or 0)
        if elections >= 4:
            hint = (f"{elections} elections in {self.within:g} ms and none won: split votes "
                    f"again and again? Draw the election timeout anew, at random, each time "
                    f"you set the timer: self.rng.uniform(*ELECTION_TIMEOUT)")
        elif elections == 0 and "leader" not in servers:
            hint = "no election was even started: does the election timer fire and start one?"
        else:
            hint = ("a leader must win a majority, and a candidate that hears from the leader "
                    "of its term becomes a follower")
        return self.failure(run, f"at t={deadline:g} ms: {servers}. {hint}", deadline)


class NoNeedlessElections(RaftRule):
    """From ``start`` to ``end`` (no fault at all), no server starts a new term."""

    def __init__(self, start: float, end: float):
        self.since, self.until = start, end
        self.description = (f"no new election while the network is quiet, from "
                            f"{start / 1000:g} s to {end / 1000:g} s")

    def begin(self, run: Run) -> None:
        super().begin(run)
        run.state.base = None
        run.state.heard = {}  # node -> when its last AppendEntries arrived

    def observe(self, run: Run) -> Violation | None:
        changed = self.follow(run)
        for event in run.new_events():
            if event.kind == "deliver" and isinstance(event.data, AppendEntries):
                run.state.heard[event.node] = event.time
        if not self.since <= run.sim.now <= self.until:
            return None
        seen = run.state.seen
        if run.state.base is None:
            run.state.base = max((t for t, _ in seen.values() if type(t) is int), default=0)
            return None
        for node_id in changed:
            term = seen[node_id][0]
            if type(term) is int and term > run.state.base:
                heard = run.state.heard.get(node_id)
                last = (f"its last AppendEntries had arrived at t={heard:.3f} ms, "
                        f"{run.sim.now - heard:.0f} ms before" if heard is not None
                        else "it had never received an AppendEntries")
                return self.failure(run, f"{node_id} started term {term} at "
                                    f"t={run.sim.now:.3f} ms although no message was lost and "
                                    f"no server failed ({last}): a leader must send "
                                    f"AppendEntries more often than the shortest election "
                                    f"timeout (every HEARTBEAT_INTERVAL ms), and a follower "
                                    f"must reset its election timer on each one from the "
                                    f"leader of its term")
        return None


class NoLeader(RaftRule):
    """From ``start`` to ``end`` (too few servers up for a majority), no server is leader."""

    def __init__(self, start: float, end: float):
        self.since, self.until = start, end
        self.description = (f"no leader while a majority is down, from {start / 1000:g} s "
                            f"to {end / 1000:g} s")

    def observe(self, run: Run) -> Violation | None:
        self.follow(run)
        if not self.since < run.sim.now < self.until:
            return None
        cluster = servers(run.sim)
        for node_id, node in cluster.items():
            if node_id not in run.sim.crashed and getattr(node, "state", None) == "leader":
                up = len(cluster) - len(run.sim.crashed)
                return self.failure(run, f"{node_id} is leader of term "
                                    f"{getattr(node, 'term', '?')} with only {up} of "
                                    f"{len(cluster)} servers up: a leader needs the votes "
                                    f"of a majority ({majority(run)})"
                                    + your_line(node, "state"))
        return None
