import { describe, expect, it } from "vitest";
import * as storage from "./index.js";

describe("status", () => {
  it("is exported under the name every module uses, with storageStatus as its deprecated alias", () => {
    const s = storage.status();
    expect(s.module).toBe("storage");
    expect(["native", "js"]).toContain(s.active);
    expect(storage.storageStatus).toBe(storage.status);
  });
});
