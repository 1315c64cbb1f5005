"""Storage: SQLModel tables, the engine/session wrapper and repositories."""
