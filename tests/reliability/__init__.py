"""The fault catalogue: each failure a user can meet, and what the project does about it."""
