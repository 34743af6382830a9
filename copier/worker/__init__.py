"""The copier's I/O half: stream workers around the pure core.

Modules, from pure to I/O:

- `state`, `codec`: stored value objects and their JSON forms;
- `draft`, `decide`: the worker's pure decisions for one follower (sans-I/O);
- `lua`: the commit / outbox scripts;
- `store`: Redis I/O of follower state, copy records and the outbox;
- `streams`: ordered, per-account consumption of the intent and EA event streams;
- `pump`: stream entry -> load -> decide -> commit -> flush;
- `worker`: `CopierWorker`, the loop that schedules all of it.
"""

from copier.worker.worker import CopierWorker

__all__ = ["CopierWorker"]
