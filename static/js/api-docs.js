// The API docs page (/api/v1/docs): Swagger UI on the schema named by #swagger-ui's
// data-openapi-url. A file of its own, not an inline script: the site's CSP allows only
// scripts from its own origin.
(function () {
  "use strict";
  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof window.SwaggerUIBundle !== "function") {
      return;
    }
    window.SwaggerUIBundle({
      url: root.dataset.openapiUrl,
      domNode: root,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      deepLinking: true,
      // No request to the public validator service: the schema stays on this site.
      validatorUrl: null,
      // Cookies are never sent: the API takes the Bearer token only.
      requestInterceptor: function (request) {
        request.credentials = "omit";
        return request;
      },
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
