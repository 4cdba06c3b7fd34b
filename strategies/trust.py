"""The trust boundary: which code the engine owns, recognised by identity, and what user code may do.

Engine-owned: the classes this package creates and registers here (``engine_owned``), recognised by the class
object itself, never by a name or a module string (a user class that sets ``__module__ = "strategies.x"`` is still
user code). Their instances play as they are: table rules (``LocalRule`` itself) hold no state and read only their
own server's inputs; the package's resources sample their own exact distributions.

Everything else is user code and is certified before it plays (``strategies.nosignal.certify``):
- a user resource's joint table is read once, in a process of its own, checked (probabilities, no-signalling, the
  quantum set: ``strategies.quantum_set``), frozen, classified by physics (a local hidden-variable model exists or
  not), and the engine samples the frozen copy; the resource's own code never runs again;
- user rules run in worker processes, one per server (``strategies.sandbox``), fed only that server's inputs, and
  every chunk's real play is one of four checked plays (``strategies.isolation``).

What arbitrary Python can still do (docs/game.md lists it): two rules that talk through files or sockets are caught
only when the replays see their outputs move; your objects are pickled in your own process when the run starts, and
code that patches this package before the run is outside any check.
"""

from __future__ import annotations

_OWNED: set[type] = set()
# Set as ``_own_sampler`` in the body of this package's resources that sample themselves, so that defining a
# resource that overrides ``sample`` is refused at once unless it carries it. A convenience, not the boundary: a
# user class that copies the marker is still not engine-owned, and ``certify`` refuses its sampler.
OWN_SAMPLER = object()


def engine_owned(cls: type) -> type:
    """Register ``cls`` (a class this package defines) as engine-owned. A class decorator."""
    _OWNED.add(cls)
    return cls


def is_engine_owned(obj) -> bool:
    """Whether ``obj`` (a class or an instance) is exactly one of the engine-owned classes: a subclass is not."""
    cls = obj if isinstance(obj, type) else type(obj)
    return cls in _OWNED
