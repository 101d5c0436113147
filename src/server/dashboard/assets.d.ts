// The page's files, imported as text (embedded in the binary by `bun build --compile`).
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*/dashboard/app.js" {
  const text: string;
  export default text;
}
declare module "*/dashboard/dom.js" {
  const text: string;
  export default text;
}
declare module "*/dashboard/overview.js" {
  const text: string;
  export default text;
}
declare module "*/dashboard/lists.js" {
  const text: string;
  export default text;
}
declare module "*/dashboard/detail.js" {
  const text: string;
  export default text;
}
