"""The Alembic history of the schema: run it, compare it with the models, and append to it."""
