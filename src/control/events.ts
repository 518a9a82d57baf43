// The ordered event stream behind `vippyctl watch` (GET /watch on the control socket): every
// state change the agent publishes, as newline-delimited JSON on a long-lived HTTP response.
//
// Each event carries the next number of one sequence that counts every event published since
// the daemon started, watched or not; the first line of a stream says where it starts, so a
// reader can tell it missed nothing. Publishing never waits for a reader: a reader whose unread
// output passes maxBufferedBytes gets one last line saying why, and is disconnected.

import type http from 'node:http';

export interface EventStreamLimits {
  /** Streams open at once; more are refused (503), so watchers cannot fill the socket's cap. */
  maxWatchers: number;
  /** Unread bytes a reader may fall behind by before it is dropped. */
  maxBufferedBytes: number;
  /** After the last line of a dropped reader, its connection is destroyed if still open this long. */
  dropGraceMs: number;
}

export const defaultEventStreamLimits: EventStreamLimits = { maxWatchers: 8, maxBufferedBytes: 256 * 1024, dropGraceMs: 5_000 };

export interface StreamEvent {
  /** kebab-case: taken, released, peer-joined, peer-stale, quorum-lost, config-reloaded, ... */
  type: string;
  [field: string]: unknown;
}

export class EventStream {
  private seq = 0;
  private readonly watchers = new Set<http.ServerResponse>();
  private readonly limits: EventStreamLimits;

  constructor(private readonly node: string, limits: Partial<EventStreamLimits> = {}) {
    this.limits = { ...defaultEventStreamLimits, ...limits };
  }

  /** Number of the last event published. */
  get lastSeq(): number {
    return this.seq;
  }

  get watching(): number {
    return this.watchers.size;
  }

  publish(event: StreamEvent): void {
    this.seq += 1;
    if (this.watchers.size === 0) return;
    // The stream's own fields come first and cannot be overridden by an event's.
    const { seq: _seq, time: _time, node: _node, ...fields } = event;
    const line = `${JSON.stringify({ seq: this.seq, time: new Date().toISOString(), node: this.node, ...fields })}\n`;
    for (const res of this.watchers) {
      if (res.writableLength + line.length > this.limits.maxBufferedBytes) {
        this.drop(res, `slow reader: more than ${this.limits.maxBufferedBytes} bytes unread`);
        continue;
      }
      res.write(line);
    }
  }

  /** Starts a stream on `res`; false (and nothing written) when maxWatchers are open. */
  subscribe(res: http.ServerResponse): boolean {
    if (this.watchers.size >= this.limits.maxWatchers) return false;
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' });
    // The next event is seq + 1.
    res.write(`${JSON.stringify({ seq: this.seq, time: new Date().toISOString(), node: this.node, type: 'watching' })}\n`);
    this.watchers.add(res);
    res.on('close', () => this.watchers.delete(res));
    return true;
  }

  /** Ends every stream with a last line giving `reason` (the daemon stopping). */
  close(reason: string): void {
    for (const res of [...this.watchers]) this.end(res, 'closed', reason);
  }

  private drop(res: http.ServerResponse, reason: string): void {
    this.end(res, 'dropped', reason);
    // A reader that does not read even the last line does not keep its connection.
    setTimeout(() => res.destroy(), this.limits.dropGraceMs).unref();
  }

  private end(res: http.ServerResponse, type: string, reason: string): void {
    this.watchers.delete(res);
    res.end(`${JSON.stringify({ seq: this.seq, time: new Date().toISOString(), node: this.node, type, reason })}\n`);
  }
}
