"""Change without surprises: what each consumer relies on, and what a producer's change to
a served contract would break (`quanta.lifecycle.impact`).

A consumer's reliance is kept with each version it publishes (`InputUse.columns`): the
upstream columns its transformation reads, found from its SQL (`quanta.build.lineage`)
or declared by a Python transformation's input port (``reads``). A producer's publish is
stopped only when a breaking change touches what a consumer relies on.
"""
