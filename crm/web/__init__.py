"""Web helpers every app's views share, one module each: refusals (the answers to refused
and failed requests, and the error handlers), exports (formula-safe CSV and XLSX), money
(amounts in the user's locale) and jinja (the environment of the hot-path templates)."""
