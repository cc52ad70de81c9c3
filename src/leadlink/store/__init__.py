"""Storage: SQLAlchemy models, repositories and Alembic migrations. The only place SQL is issued."""
