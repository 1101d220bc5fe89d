// Files imported `with { type: "file" }` resolve to a path (inside the binary when compiled).
declare module "*.css" {
  const path: string;
  export default path;
}
declare module "*/swagger-ui-bundle.js" {
  const path: string;
  export default path;
}
