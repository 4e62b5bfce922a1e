"""Project cfn-lint rules (E9xxx): least privilege, which cfn-lint's own rules leave unchecked.

cfn-lint loads every ``[A-Za-z]*.py`` here with ``--append-rules cfn_lint_rules``: one rule per
file. Each rule has good and bad fixture templates beside its test in ``tests/cfn_lint_rules/``.
The rules read policies through one walker, ``tunnel_infra/iam_statements.py``, which the
review's IAM diff and the tests share.
"""
