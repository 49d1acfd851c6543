"""Consensus protocols: single-decree Paxos (`distlab.consensus.paxos`), Multi-Paxos
(`distlab.consensus.multipaxos`) and Raft (`distlab.consensus.raft`), each a package holding
its messages, its nodes and its invariants; the experiments that the book's pages run on them
live apart, in each package's ``runs``."""
