"""Demo data, benchmarks and the load test: development tooling, kept out of the product's
apps. Its data builders (`demo`, `bench_fixtures`, `bench_pages`, `bench_analytics`) are
reused by the tests; `manage.py seed_demo`, `bench`, `bench_analytics` and `loadtest` are thin
commands over them (this package is an app of its own so Django finds them). `bench_http`
(HTTP timing) and `bench_server` (gunicorn, sessions, query counts) sit below the benchmarks and
the load test, which never import each other."""
