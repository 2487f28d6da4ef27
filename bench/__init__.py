"""``make bench``: throughput and memory figures of c3d on this machine (see __main__)."""
