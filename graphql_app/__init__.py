"""graphql_app: a GraphQL API server for a multi-user todo list."""

__version__ = "0.1.0"
