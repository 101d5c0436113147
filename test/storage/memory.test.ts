import { MemoryStorage } from "../../src/storage/memory";
import { describeStorageContract } from "./contract";

describeStorageContract("memory", (queue) => new MemoryStorage(queue), { shared: false });
