/**
 * supervisord's event-listener protocol, the framing only: "READY\n" on stdout; then per event a
 * header line (`eventname:... len:N`) and N bytes of payload on stdin; the listener answers
 * "RESULT 2\nOK" when done and "READY\n" for the next one. Events are handled one at a time, in
 * order, however the input arrives in chunks.
 */
export interface EventProtocolDeps {
  /** Handles one event; a throw is given to `failed` and the event still acknowledged. */
  handle(eventName: string, payload: string): Promise<void>;
  failed(err: Error, eventName: string): Promise<void>;
  /** Writes protocol text (stdout). */
  write(text: string): void;
  /** After each acknowledged event, before the next READY. */
  afterEvent?(): void;
}

export interface EventProtocol {
  /** Tells supervisord the listener can take an event. */
  ready(): void;
  /** Input bytes (stdin data). */
  feed(chunk: Buffer): void;
}

export function createEventProtocol(deps: EventProtocolDeps): EventProtocol {
  let buffer = Buffer.alloc(0);
  let busy = false;
  const ready = () => deps.write('READY\n');

  /** The next complete event in the buffer (removed from it), or undefined until more input arrives. */
  function nextEvent(): { eventName: string; payload: string } | undefined {
    const nl = buffer.indexOf('\n');
    if (nl < 0) return undefined;
    const header = buffer.subarray(0, nl).toString();
    const len = Number(/len:(\d+)/.exec(header)?.[1] ?? 0);
    if (buffer.length < nl + 1 + len) return undefined;
    const payload = buffer.subarray(nl + 1, nl + 1 + len).toString();
    buffer = buffer.subarray(nl + 1 + len);
    return { eventName: /eventname:(\S+)/.exec(header)?.[1] ?? '', payload };
  }

  async function drain(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      for (let event = nextEvent(); event; event = nextEvent()) {
        try {
          await deps.handle(event.eventName, event.payload);
        } catch (err) {
          await deps.failed(err as Error, event.eventName);
        }
        deps.write('RESULT 2\nOK');
        deps.afterEvent?.();
        ready();
      }
    } finally {
      busy = false;
    }
  }

  return {
    ready,
    feed(chunk) {
      buffer = Buffer.concat([buffer, chunk]);
      void drain();
    },
  };
}
