"""Background work: upload processing, event relay, snapshots."""
