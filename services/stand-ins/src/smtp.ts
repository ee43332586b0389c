import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { Arrivals } from './arrivals.js';
import { ScriptedFailures } from './scripted-failures.js';

/** One message the SMTP stand-in accepted, parsed with mailparser. */
export interface ReceivedMail {
  /** Envelope sender (MAIL FROM), a bare address; the `From:` header is in `headers.from`. */
  from: string;
  /** Envelope recipients (RCPT TO), bare addresses, in the order given. */
  to: string[];
  /** Decoded `Subject:`, '' when absent. */
  subject: string;
  /** The plain-text part, '' when the message has none. */
  text: string;
  /** `Message-ID:` with its angle brackets, as nodemailer reports it in `info.messageId`; '' when absent. */
  messageId: string;
  /**
   * Lower-case header name → the header's value as sent (unfolded, not MIME-decoded). A header
   * that occurs more than once keeps its first (topmost) occurrence.
   */
  headers: Record<string, string>;
  /** The whole message as received after DATA (headers and body, CRLF line ends). */
  raw: string;
  /** When the stand-in accepted it, milliseconds since the epoch. */
  receivedAt: number;
}

export interface SmtpStandInOptions {
  /** Port to listen on; 0 (default) picks a free one, kept across `stop()`/`start()`. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** The name others reach it by, for `url`, when not the interface (`stand-ins` in docker-compose). */
  publicHost?: string;
}

/**
 * A plain SMTP server (no TLS, AUTH optional and any credentials accepted) that keeps what it
 * receives. nodemailer reaches it with `{host, port, secure: false, ignoreTLS: true}`.
 */
export interface SmtpStandIn {
  readonly port: number;
  /** `smtp://<host>:<port>`. */
  readonly url: string;
  /** Accepted messages, oldest first. Cleared in place by `reset()`. */
  readonly messages: ReceivedMail[];
  /**
   * Reject the next `count` messages (default: every message until `reset()`) with `code`:
   * a 5xx at RCPT TO (every recipient of the message; nodemailer: `EENVELOPE`), a 4xx at DATA
   * after the body was read (nodemailer: `EMESSAGE`; 421 also closes the connection, as
   * smtp-server does for any 421). The reply carries `code` as its status. Calls queue up:
   * `failWith(451, 1); failWith(550, 1)` rejects one message with 451, the next with 550.
   */
  failWith(code: number, count?: number): void;
  /**
   * Milliseconds to wait, once a message's DATA is read, before answering it (a slow server);
   * 0 by default, settable at any time. The message is accepted and recorded after the delay
   * even if the client gave up meanwhile, like a server that did not notice the disconnect.
   */
  delayMs: number;
  /** Forget received messages and any `failWith`; `delayMs` back to 0. */
  reset(): void;
  /** Resolves with all messages once at least `n` arrived; rejects after `timeoutMs` (default 10 000). */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /**
   * Stop listening and drop open connections (each gets `421` first), as an outage would;
   * received messages are kept. Safe to call when already stopped.
   */
  stop(): Promise<void>;
  /** Listen again on the same port. Safe to call when already listening. */
  start(): Promise<void>;
  /** Stop for good. Safe to call twice. */
  close(): Promise<void>;
}

/** What happens to the current transaction of a session, decided at MAIL FROM. */
type Verdict = { code: number } | undefined;

/** Start an SMTP stand-in; resolves once it listens. */
export async function startSmtpStandIn(options: SmtpStandInOptions = {}): Promise<SmtpStandIn> {
  const host = options.host ?? '127.0.0.1';
  let port = options.port ?? 0;
  const arrivals = new Arrivals<ReceivedMail>('mail message(s)');
  const failures = new ScriptedFailures<number>();
  let delayMs = 0;
  // A session lives as long as its connection and may carry many transactions (pooled
  // transports), so the verdict is replaced at each MAIL FROM.
  const verdicts = new WeakMap<SMTPServerSession, Verdict>();
  let server: SMTPServer | undefined;
  let stopping: Promise<void> | undefined;
  let closed = false;

  /** Take the next scripted failure, if any, for a new transaction. */
  function decide(): Verdict {
    const code = failures.take();
    return code === undefined ? undefined : { code };
  }

  function smtpError(code: number, message: string): Error & { responseCode: number } {
    return Object.assign(new Error(message), { responseCode: code });
  }

  function createServer(): SMTPServer {
    return new SMTPServer({
      name: 'smtp-stand-in.localhost',
      banner: 'Herald SMTP stand-in',
      disabledCommands: ['STARTTLS'],
      authOptional: true,
      // AUTH without TLS is refused by default; a stand-in takes whatever it is given.
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _session, callback) {
        callback(null, { user: auth.username ?? 'anonymous' });
      },
      onMailFrom(_address, session, callback) {
        verdicts.set(session, decide());
        callback();
      },
      onRcptTo(address, session, callback) {
        const verdict = verdicts.get(session);
        if (verdict && verdict.code >= 500) {
          callback(
            smtpError(
              verdict.code,
              `Mailbox unavailable: <${address.address}> rejected by the stand-in (failWith ${verdict.code})`,
            ),
          );
          return;
        }
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.once('error', (err: Error) => callback(err));
        stream.once('end', () => {
          // Read the envelope now: once the reply is due, the session may move on (or go).
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          const to = session.envelope.rcptTo.map((rcpt) => rcpt.address);
          if (delayMs > 0) setTimeout(() => finish(from, to), delayMs);
          else finish(from, to);
        });
        function finish(from: string, to: string[]): void {
          const verdict = verdicts.get(session);
          if (verdict && verdict.code < 500) {
            callback(
              smtpError(verdict.code, `Requested action aborted: local error in processing (failWith ${verdict.code})`),
            );
            return;
          }
          const rawBuffer = Buffer.concat(chunks);
          simpleParser(rawBuffer).then(
            (parsed) => {
              const headers: Record<string, string> = {};
              for (const { key, line } of parsed.headerLines) {
                if (Object.hasOwn(headers, key)) continue;
                headers[key] = line
                  .slice(line.indexOf(':') + 1)
                  .replace(/\r?\n[ \t]+/g, ' ')
                  .trim();
              }
              arrivals.push({
                from,
                to,
                subject: parsed.subject ?? '',
                text: parsed.text ?? '',
                messageId: parsed.messageId ?? '',
                headers,
                raw: rawBuffer.toString('utf8'),
                receivedAt: Date.now(),
              });
              callback(null, 'Message queued by the stand-in');
            },
            (err: unknown) =>
              callback(smtpError(554, `Transaction failed: message could not be parsed (${String(err)})`)),
          );
        }
      },
    });
  }

  async function start(): Promise<void> {
    if (closed) throw new Error('SMTP stand-in was closed; start a new one');
    if (stopping) await stopping;
    if (server) return;
    const created = createServer();
    await new Promise<void>((resolve, reject) => {
      created.once('error', reject);
      created.listen(port, host, () => {
        created.off('error', reject);
        resolve();
      });
    });
    // Errors after start (a client resetting its socket) must not crash the test process.
    created.on('error', () => {});
    port = (created.server.address() as AddressInfo).port;
    server = created;
  }

  function stop(): Promise<void> {
    if (stopping) return stopping;
    const current = server;
    if (!current) return Promise.resolve();
    server = undefined;
    stopping = new Promise<void>((resolve) => {
      current.close(() => resolve());
      // smtp-server waits up to 30 s for open sessions; an outage does not.
      for (const connection of current.connections) {
        try {
          connection.send(421, 'Service not available, closing transmission channel');
        } catch {
          // the client is already gone; closing is all that is left
        }
        connection.close();
      }
    }).finally(() => {
      stopping = undefined;
    });
    return stopping;
  }

  let closing: Promise<void> | undefined;
  await start();
  return {
    get port() {
      return port;
    },
    get url() {
      return `smtp://${options.publicHost ?? host}:${port}`;
    },
    messages: arrivals.items,
    failWith(code, count) {
      if (!Number.isInteger(code) || code < 400 || code > 599) {
        throw new RangeError(`failWith(code): expected an SMTP reply code from 400 to 599, got ${code}`);
      }
      failures.add(code, count);
    },
    get delayMs() {
      return delayMs;
    },
    set delayMs(ms: number) {
      delayMs = ms;
    },
    reset() {
      failures.clear();
      delayMs = 0;
      arrivals.clear();
    },
    waitForMessages(n, timeoutMs = 10_000) {
      return arrivals.waitFor(n, timeoutMs);
    },
    stop,
    start,
    close() {
      closing ??= (async () => {
        closed = true;
        await stop();
      })();
      return closing;
    },
  };
}
