"""Users, roles, API tokens and police access requests."""
