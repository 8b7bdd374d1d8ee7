"""Pure rules with no I/O: statuses, actions, field rules, ids, errors."""
