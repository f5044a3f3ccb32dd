"""The national ledger: stock on hand, transfer matching, serial tracking."""
