"""Privacy: what the mesh knows about the people (and other subjects) its data is about.

- `quanta.privacy.concepts`: the shared concepts, from the governance folder's definitions
  and the catalog's served contracts (which columns carry each, under which identifier,
  which ports map one identifier to another), and what a product folder declares wrong
  about them.
- `quanta.privacy.joins`: the joins of a query or a transformation that compare columns of
  different concepts, or of one concept in different identifiers, and the mapping to join
  through instead. It reads SQL with sqlglot: import it where it is used.
"""
