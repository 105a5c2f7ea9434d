// Where the pages find the API, set at deploy time (docs/deploy.md rewrites this file when it
// publishes web/ to the CDN). Empty: the API is this page's own origin (the local stage).
export const config = {
  apiBase: "",
};
