"""Coordination services (chapter 4): a key-value store with compare-and-set, leases, watches
and ephemeral keys, replicated by Raft, and the recipes built on it -- a lock with fencing
tokens, leader election, a service registry, configuration with watches -- run alike on the
toy (`toy`), on a real etcd (`etcd`) and on a real ZooKeeper (`zookeeper`), which `servers`
starts on loopback."""
