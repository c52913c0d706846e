"""One file per paper: its hyper-parameter dataclass, network, losses and test-time procedure.

How each is trained, registered and experimented with lives in :mod:`stylelib.recipes`;
the table of methods is :mod:`stylelib.catalog`.
"""
