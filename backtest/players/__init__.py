"""Stage 2, the players: the strategies that turn indicator bits into quoting orders, one ``Player`` each.

``roster`` registers every strategy with its metadata (local or communicating, entangled or not) and builds and
certifies them for a run; ``history`` the classical rules with a memory of past readings; ``information`` the
players that use multi-level indicator readings; ``supply`` the Bell-pair supply (Poisson arrivals into a quantum
memory) that decides which rounds get a pair.
"""
