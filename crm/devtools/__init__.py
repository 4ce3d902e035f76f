"""Demo data, benchmarks and the load test: development tooling, kept out of the product's
apps. Its data builders (`demo`, `bench_fixtures`, `bench_pages`, `bench_analytics`) are
reused by the tests; `manage.py seed_demo`, `bench`, `bench_analytics` and `loadtest` are thin
commands over them (this package is an app of its own so Django finds them)."""
