import { hostname } from "node:os";

/** This consumer process's id in its log lines: `<host>:<pid>`, unique among the consumers running at one time. */
export function consumerId(): string {
  return `${hostname()}:${process.pid}`;
}
