/** bun-huey: background tasks for Bun on one SQLite file. */

// The queue
export { Huey, MemoryHuey, resolveHueyOptions } from "./huey";
export type { HueyOptions, ResolvedHueyOptions, PendingTask, ScheduledTask } from "./huey";
export { SqliteHuey } from "./storage/sqlite-huey";
export type { SqliteHueyOptions } from "./storage/sqlite-huey";
export { PostgresHuey } from "./storage/postgres-huey";
export type { PostgresHueyOptions } from "./storage/postgres-huey";
export { RedisHuey } from "./storage/redis-huey";
export type { RedisHueyOptions } from "./storage/redis-huey";

// Tasks and results
export type { TaskDef, TaskOptions, ResolvedTaskOptions, ScheduleOptions, TaskContext, RateLimit } from "./task";
export { Result, ResultGroup } from "./result";
export type { GetOptions } from "./result";
export type { DeadLetter } from "./message";
export type { FailedTask } from "./dead-letters";
export type { TaskState, TaskError } from "./task-state";
export type { TaskLog, TaskLogLine, TaskEvent, TaskLogFn, TaskLogLevel } from "./task-log";
export { Signature } from "./pipeline";
export { crontab } from "./cron";
export type { Schedule, ScheduleSpec, CrontabFields } from "./cron";
export type { StageOptions } from "./pipeline";

// Signals
export { SIGNALS } from "./signals";
export type { SignalName, SignalHandler, TaskInfo } from "./signals";

// Errors: match on `code` across threads
export {
  HueyError,
  ConfigurationError,
  UnknownTaskError,
  DuplicateTaskError,
  SerializationError,
  PayloadTooLargeError,
  StorageError,
  DuplicateIdError,
  LoadError,
  TaskFailedError,
  ResultTimeoutError,
  TaskTimeoutError,
  WorkerDiedError,
  RetryTask,
  CancelExecution,
  TaskLockedError,
} from "./errors";
export type { HueyErrorCode, SerializedError } from "./errors";

// Storage, for custom backends and tools
export { MemoryStorage } from "./storage/memory";
export { SqliteStorage } from "./storage/sqlite";
export type { SqliteStorageOptions } from "./storage/sqlite";
export { RedisStorage } from "./storage/redis";
export { PostgresStorage } from "./storage/postgres";
export type { PostgresStorageOptions } from "./storage/postgres";
export type { RedisStorageOptions } from "./storage/redis";
export type { Storage, QueueItem, ScheduledItem, LeasedItem, LeaseRef, ResultItem, CommitBatch, CommitReport, FencedWrite, LockInfo, LocatedItem } from "./storage/types";

// The consumer, for running it from your own code
export { Consumer } from "./consumer/consumer";
export { runConsumer } from "./consumer/run";
export type { RunConsumerOptions, RunningConsumer } from "./consumer/run";
export type { ConsumerOptions, ResolvedConsumerOptions } from "./consumer/options";

export type { Duration } from "./_time";
