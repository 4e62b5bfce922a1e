"""Change-set review before prod: ``python -m review plan ENV`` and ``python -m review deploy ENV``.

``plan`` renders every stack of an environment exactly as ``sceptre launch`` would, compares it
offline with what is deployed (resources, property paths, predicted replacements, IAM), creates
one CloudFormation change set per stack, merges CloudFormation's verdicts with the offline
prediction, writes ``build/review/<env>.md`` and ``.json`` and exits non-zero while a destructive
or permission-broadening change is not approved by name. ``deploy`` executes exactly the
recorded change sets, in dependency order, and refuses when anything differs from the review.
"""
