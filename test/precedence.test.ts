import { describe, expect, it } from "vitest";
import { Precedence } from "../src/inference/local/Precedence.js";

const settled = async (promise: Promise<void> | undefined): Promise<boolean> => {
  if (!promise) return true;
  let done = false;
  void promise.then(() => (done = true));
  // Two macrotask turns let any resolution that is due run first.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe("precedence between windows' completions", () => {
  it("lets everyone go on while no first request runs", () => {
    const order = new Precedence();
    expect(order.turn(new AbortController().signal)).toBeUndefined();
    expect(order.busy()).toBe(false);
  });

  it("holds the others until every first request has ended, then lets them all go", async () => {
    const order = new Precedence();
    const end1 = order.begin();
    const end2 = order.begin();
    const waits = [order.turn(new AbortController().signal), order.turn(new AbortController().signal)];
    expect(waits.every((w) => w !== undefined)).toBe(true);
    end1();
    // Ending the same request twice must not release the others early.
    end1();
    expect(await settled(waits[0])).toBe(false);
    expect(order.busy()).toBe(true);
    end2();
    expect(await settled(waits[0])).toBe(true);
    expect(await settled(waits[1])).toBe(true);
    expect(order.busy()).toBe(false);
    expect(order.turn(new AbortController().signal)).toBeUndefined();
  });

  it("a waiting request that is cancelled stops waiting at once", async () => {
    const order = new Precedence();
    order.begin();
    const cancel = new AbortController();
    const wait = order.turn(cancel.signal);
    expect(await settled(wait)).toBe(false);
    cancel.abort();
    expect(await settled(wait)).toBe(true);
    // An already cancelled request never waits.
    expect(order.turn(cancel.signal)).toBeUndefined();
  });
});
