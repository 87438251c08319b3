"""The benchmark: graphql_app beside a REST baseline and PostGraphile (see bench/README.md)."""
