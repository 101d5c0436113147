// .env files as bun loads them: parsing, the order of files, and variables already set winning.
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { envFileNames, loadEnvFiles, parseEnv } from "../../src/consumer/env-files";
import { tempDir } from "../harness";

test("parseEnv: comments, export, quotes, escapes and $VAR expansion", () => {
  const text = `# a comment\nA=1\nexport B="x\\ny" # after\nC='$A literal'\nD=$A-\${B}\nE=v # comment\nF=\nG="multi\nline"\nnot a line\n`;
  expect(parseEnv(text)).toEqual({ A: "1", B: "x\ny", C: "$A literal", D: "1-x\ny", E: "v", F: "", G: "multi\nline" });
});

test("the files bun reads, weakest first", () => {
  expect(envFileNames("")).toEqual([".env", ".env.development", ".env.local"]);
  expect(envFileNames("production")).toEqual([".env", ".env.production", ".env.local"]);
  expect(envFileNames("test")).toEqual([".env", ".env.test"]);
});

test("loadEnvFiles: .env.local beats .env.<NODE_ENV> beats .env; a variable already set beats them all", () => {
  const dir = tempDir();
  writeFileSync(join(dir, ".env"), "A=env\nB=env\nC=env\nD=env\n");
  writeFileSync(join(dir, ".env.production"), "B=prod\nC=prod\n");
  writeFileSync(join(dir, ".env.local"), "C=local\n");
  const env: Record<string, string | undefined> = { NODE_ENV: "production", D: "set" };
  expect(loadEnvFiles(dir, env)).toEqual([".env", ".env.production", ".env.local"].map((f) => join(dir, f)));
  expect(env).toEqual({ NODE_ENV: "production", A: "env", B: "prod", C: "local", D: "set" });
  expect(loadEnvFiles(tempDir(), env)).toEqual([]);
});
