"""The attempts ledger: every SMS attempt from its lease to its outcome.

Only this package reads or writes the `attempts` table: the dispatcher writes
through `store.AttemptStore`, the policy and alerts judge on its windows, the
metrics job rolls it up through `queries` and purges it through the store.
"""
