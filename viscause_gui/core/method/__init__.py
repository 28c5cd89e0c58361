"""The paper's method, generic: partitions, the CCT, observational classes, the experiment (Algorithms 1
and 2), the manipulator, oracles, the driver and the summaries panels show. It names no experiment."""
