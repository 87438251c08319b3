// What the subscribing client scripts share: a queue of the todoEvents a
// subscription delivered, and the wait until a subscription is live.

export const EVENTS_QUERY = `
  subscription TodoEvents { todoEvents { kind todoId todo { id name isCompleted } } }
`;

class Timeout extends Error {}

/** The events (or errors) one subscription delivered, read in order with bounded waits. */
export class EventQueue {
  #items = [];
  #waiters = [];

  push(item) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  /** The next item; fails after `timeoutMs` without one. */
  next(timeoutMs = 15000) {
    if (this.#items.length) return Promise.resolve(this.#items.shift());
    return new Promise((resolve, reject) => {
      const waiter = { resolve: (item) => (clearTimeout(timer), resolve(item)) };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Timeout(`no event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The next item, which must be a todoEvents event (an error fails the script). */
  async event(timeoutMs) {
    const item = await this.next(timeoutMs);
    if (item instanceof Error || !item.todoEvents) {
      const shown = item instanceof Error ? String(item) : JSON.stringify(item);
      throw new Error(`the subscription delivered ${shown}`);
    }
    return item.todoEvents;
  }
}

/**
 * Return once the subscription delivers events, with no probe event left unread.
 *
 * A subscription goes live some time after it is sent. Make probe todos (each
 * call returns the new todo's id) until one's event arrives: from then on
 * every later probe arrives too, in order, so reading up to the last one
 * leaves the queue clean for the script's own events.
 */
export async function untilLive(queue, makeProbe, attempts = 50) {
  for (let i = 0; i < attempts; i++) {
    const last = await makeProbe();
    let event;
    try {
      event = await queue.event(200);
    } catch (error) {
      if (error instanceof Timeout) continue;
      throw error;
    }
    while (event.todoId !== last) event = await queue.event();
    return i + 1;
  }
  throw new Error("the subscription never delivered an event");
}

/** Create, update and delete one todo through `mutate`; the three events `queue` then holds. */
export async function createUpdateDelete(queue, mutate, name) {
  const id = await mutate.create(name);
  await mutate.update(id);
  await mutate.remove(id);
  const events = [];
  for (let i = 0; i < 3; i++) events.push(await queue.event());
  return { id, events };
}
