"""distlab.compute: distributed computation -- the MapReduce model and a framework that runs it.

* `distlab.compute.model` -- the programming model (map, shuffle, reduce, combiner,
  partitioning), run sequentially: the reference;
* `distlab.compute.jobs` -- word count, inverted index, a reduce-side join, a sort;
* `distlab.compute.files` -- the shared file system of the simulated cluster, whose every
  write is in the trace;
* `distlab.compute.messages`, `distlab.compute.mapreduce` -- the coordinator and workers on
  the simulator (Dean and Ghemawat 2004);
* `distlab.compute.invariants` -- what a run must get right; `distlab.compute.runs` -- the
  experiments of the pages.
* `distlab.compute.dag` -- datasets with lineage, stages, recomputation of lost partitions
  (Spark's RDDs); `distlab.compute.streaming` -- event-time windows and watermarks (Flink);
  `distlab.compute.checkpoints` -- why checkpoint barriers are aligned;
* `distlab.compute.scheduling` -- FIFO, fair and delay scheduling of jobs on a shared cluster;
* `distlab.compute.dask_engine` -- the same jobs on a real engine, Dask distributed (the
  ``engines`` extra).
"""
