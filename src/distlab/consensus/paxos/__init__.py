"""Single-decree Paxos, as in Lamport's "Paxos Made Simple" {cite:p}`lamport2001paxos`.

Proposers propose values; acceptors promise and accept; a value is *chosen* once a majority
of acceptors have accepted it in the same ballot, and a proposer learns it when a majority
tell it so. The package holds the protocol only: its messages (`messages`), its nodes
(`nodes`), broken variants with one rule removed in each (`bugs`), and its safety
properties as `distlab.check.Invariant` objects (`invariants`). The experiments the book
runs on it live apart, in `distlab.consensus.paxos.runs`.
"""

from distlab.consensus.paxos.bugs import (ForgetfulAcceptor, HastyProposer, MinorityProposer,
                                          PromiseBreakingAcceptor)
from distlab.consensus.paxos.invariants import AtMostOneValueChosen, agreement, validity
from distlab.consensus.paxos.messages import Accept, Accepted, Ballot, Prepare, Promise
from distlab.consensus.paxos.nodes import Acceptor, Proposer

__all__ = ["Accept", "Accepted", "Acceptor", "AtMostOneValueChosen", "Ballot",
           "ForgetfulAcceptor", "HastyProposer", "MinorityProposer", "Prepare", "Promise",
           "PromiseBreakingAcceptor", "Proposer", "agreement", "validity"]
