"""Multi-Paxos: a replicated log with one Paxos instance per slot and a leader that runs
phase 1 once for all of them. Lamport, "Paxos Made Simple" {cite:p}`lamport2001paxos`,
section 3; van Renesse and Altinbuken, "Paxos Made Moderately Complex"
{cite:p}`vanrenesse2015paxos`.

* `distlab.consensus.multipaxos.messages` -- the phases' messages, each naming a slot, and the
  log's (`Decide`, `Heartbeat`, `CatchUp`), and the `NOOP` command.
* `distlab.consensus.multipaxos.nodes` -- `MultiPaxosServer` (acceptor, replica and, when it
  leads, proposer) replicating a key-value store; `PaxosPerCommand`, which runs phase 1
  before every command, as single-decree Paxos per slot would.
* `distlab.consensus.multipaxos.invariants` -- one value chosen per slot; replicas apply the
  same command in each slot.
* `distlab.consensus.multipaxos.bugs` -- two new leaders that do not learn what they must.
* `distlab.consensus.multipaxos.runs` -- the experiments the book runs.
"""
