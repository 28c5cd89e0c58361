"""Qt-free engine: data sets, GRATING, partitions, nets, manipulator, oracles, experiment."""
