// RedisHuey: a Huey on a Redis server, beside its storage.
import { ConfigurationError } from "../errors";
import { Huey, type HueyOptions } from "../huey";
import { RedisStorage, type RedisStorageOptions } from "./redis";

export interface RedisHueyOptions extends Omit<HueyOptions, "storage">, Omit<RedisStorageOptions, "queue"> {}

/**
 * A Huey on a Redis server (7.2+ or Valkey, standalone): `new RedisHuey({ name: "app", url:
 * process.env.REDIS_URL })`. Consumers on many machines share it.
 */
export class RedisHuey extends Huey {
  constructor(options: RedisHueyOptions) {
    if (typeof options.url !== "string" || options.url === "") {
      throw new ConfigurationError(`RedisHuey needs a "url" such as redis://127.0.0.1:6379, got ${JSON.stringify(options.url)}`);
    }
    super({ ...options, storage: () => new RedisStorage({ url: options.url, queue: options.name, prefix: options.prefix }) });
  }
}
