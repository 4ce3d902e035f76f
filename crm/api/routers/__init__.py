"""The API's endpoints, one module per subject (like the apps' views): each loads records
through the selectors' doors (404 another team's, 403 not yours to change), validates with
its subject's schemas and calls one service."""
