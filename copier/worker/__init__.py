"""The copier's I/O half: stream workers around the pure core.

Modules, from pure to I/O:

- `state`, `codec`: stored value objects and their stored forms (`stored_json`,
  `link_codec`, `signal_codec`: JSON text, ticket links, master signals);
- `draft`, `decide`: the worker's pure decisions for one follower (sans-I/O);
- `withdrawn`: the copy records of pending fill cancels a decision withdrew (pure);
- `ops`: one decision as the arguments of a commit (pure);
- `lua`: the load / commit / lock scripts; `outbox_lua`: the outbox claim / done scripts;
- `cache`: decoded records kept by what identifies their stored form;
- `store`: Redis I/O of follower state, copy records and the outbox;
- `stream_entry`: one stream entry as handed to a handler, and stream id order;
- `group_reader`: one consumer's reads of the copier group (new, claimed, deferred);
- `streams`: ordered, per-account consumption of the intent and EA event streams;
- `pump`: stream entry -> load -> decide -> commit -> flush;
- `worker`: `CopierWorker`, the loop that schedules all of it.
"""

from copier.worker.worker import CopierWorker

__all__ = ["CopierWorker"]
