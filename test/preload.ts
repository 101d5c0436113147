// Loaded before the test files (bunfig.toml): hooks here apply to the whole run.
import { afterAll } from "bun:test";
import { removeTempDirs } from "./harness";

afterAll(removeTempDirs);
