import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { CHANNELS, HeraldApiError, HeraldClient, type PublishRequest, type UserRequest } from '@herald/client';
import { details, table } from './output.js';

/**
 * `herald`: Herald's publisher API from the command line. Where and who: HERALD_URL (default
 * http://127.0.0.1:3000) and HERALD_API_KEY, or --url and --key.
 *
 * Exit codes: 0 success; 1 the API refused the request (4xx, e.g. not found, invalid, forbidden);
 * 2 a usage error (unknown command, missing argument); 3 the publisher or Redis is unavailable
 * (no answer, 5xx, 429): worth retrying; 4 the outcome is not known and a retry is not safe (a
 * `replay --resend` that got no answer or a 5xx may have started its pass, and another would send again).
 */
const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3, unknown: 4 } as const;

const program = new Command()
  .name('herald')
  .description("Herald's publisher API from the command line")
  .addOption(new Option('--url <url>', 'the publisher').env('HERALD_URL').default('http://127.0.0.1:3000'))
  .addOption(new Option('--key <key>', 'API key (Authorization: Bearer)').env('HERALD_API_KEY'))
  .option('--json', 'print JSON for scripts instead of tables')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

/** A request that may or may not have taken effect, which a retry could repeat. */
class OutcomeUnknown extends Error {
  constructor(override readonly cause: HeraldApiError) {
    super(
      `${cause.code}: ${cause.message}\n` +
        'The replay may have started its pass before this failure, and running it again would ' +
        'deliver every notification walked once more. ' +
        'Check `herald groups` (a replay raises the lag) and the statuses before retrying.',
    );
  }
}

function client(): HeraldClient {
  const { url, key } = program.opts<{ url: string; key?: string }>();
  return new HeraldClient({ baseUrl: url, ...(key ? { apiKey: key } : {}) });
}

function print(human: string, data: unknown): void {
  process.stdout.write(`${program.opts().json ? JSON.stringify(data, null, 2) : human}\n`);
}

program
  .command('publish')
  .description('publish a notification (fields as options, or a JSON file with --file, - for stdin)')
  .option('--file <path>', 'the notification as JSON')
  .option('--id <id>', 'notification id (idempotency key)')
  .option('--user <userId>', 'the user')
  .option('--type <type>', 'the notification type')
  .option('--title <title>')
  .option('--body <body>')
  .option('--link <url>', 'a link for the notification (its url)')
  .option('--channels <list>', `comma list of ${CHANNELS.join(', ')}`)
  .option('--email <address>', 'send to this address instead of the stored one')
  .option('--phone <number>', 'send to this number instead of the stored one')
  .option('--expires-at <time>', 'ISO-8601 time after which it must not be sent')
  .action(async (o: Record<string, string | undefined>) => {
    let n: PublishRequest;
    if (o.file) {
      n = JSON.parse(readFileSync(o.file === '-' ? 0 : o.file, 'utf8')) as PublishRequest;
    } else {
      const to = { ...(o.email ? { email: o.email } : {}), ...(o.phone ? { phone: o.phone } : {}) };
      n = {
        userId: o.user ?? '',
        type: o.type ?? '',
        body: o.body ?? '',
        ...(o.id ? { id: o.id } : {}),
        ...(o.title ? { title: o.title } : {}),
        ...(o.link ? { url: o.link } : {}),
        ...(o.channels ? { channels: o.channels.split(',').map((c) => c.trim()) as PublishRequest['channels'] } : {}),
        ...(Object.keys(to).length ? { to } : {}),
        ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
      };
    }
    const result = await client().publish(n);
    print(details(result), result);
  });

program
  .command('status <id>')
  .description("a notification's state on each channel")
  .action(async (id: string) => {
    const s = await client().getStatus(id);
    const rows = Object.entries(s.channels).map(([channel, c]) => ({ channel, ...c }));
    print(
      `${details({ id: s.id, userId: s.userId, type: s.type, streamId: s.streamId, createdAt: s.createdAt })}\n\n` +
        `${table(rows, ['channel', 'state', 'attempts', 'reason', 'error', 'providerId', 'updatedAt'])}`,
      s,
    );
  });

program
  .command('groups')
  .description("each channel's consumer group: consumers, pending, lag, dead letters")
  .action(async () => {
    const groups = await client().groups();
    const rows = groups.map((g) => ({
      ...g,
      consumers: g.consumers.length,
      oldestPendingS: Math.round(g.oldestPendingAgeMs / 1000),
    }));
    print(
      table(rows, [
        'channel',
        'group',
        'consumers',
        'pending',
        'lag',
        'lastDeliveredId',
        'oldestPendingS',
        'deadLetters',
      ]),
      groups,
    );
  });

program
  .command('replay <channel>')
  .description("walk a channel's group again from a point; without --resend only gaps are filled")
  .requiredOption('--from <point>', '0, a stream id, or an ISO-8601 time')
  .option('--resend', 'deliver every notification walked once more')
  .action(async (channel: string, o: { from: string; resend?: boolean }) => {
    try {
      const result = await client().replay(channel, o.from, { resend: !!o.resend });
      print(details(result), result);
    } catch (err) {
      // 4xx and 429 come before any work; no answer or a 5xx may come after the pass started.
      if (o.resend && err instanceof HeraldApiError && (err.status === 0 || err.status >= 500))
        throw new OutcomeUnknown(err);
      throw err;
    }
  });

const dlq = program.command('dlq').description('dead letters');
dlq
  .command('list')
  .option('--channel <channel>')
  .option('--limit <n>', 'at most this many', '50')
  .option('--after <dlqId>', 'the page after this dead letter')
  .action(async (o: { channel?: string; limit: string; after?: string }) => {
    const page = await client().deadLetters({
      limit: Number(o.limit),
      ...(o.channel ? { channel: o.channel } : {}),
      ...(o.after ? { after: o.after } : {}),
    });
    const more = page.next ? `\n(more: --after ${page.next})` : '';
    print(
      table(page.deadLetters as unknown as Record<string, unknown>[], [
        'dlqId',
        'channel',
        'id',
        'reason',
        'attempts',
        'error',
      ]) + more,
      page,
    );
  });
dlq
  .command('redrive <dlqId>')
  .description('append the notification again for its channel, and remove the letter')
  .action(async (dlqId: string) => {
    const result = await client().redrive(dlqId);
    print(details(result), result);
  });
dlq.command('drop <dlqId>').action(async (dlqId: string) => {
  await client().dropDeadLetter(dlqId);
  print(`dropped ${dlqId}`, { dropped: dlqId });
});

const users = program.command('users').description('contact data and preferences');
users.command('get <userId>').action(async (userId: string) => {
  const user = await client().getUser(userId);
  print(details(user), user);
});
users
  .command('set <userId>')
  .description("replace a user's contact data and preferences (push subscriptions stay)")
  .option('--email <address>')
  .option('--phone <number>')
  .option('--locale <tag>')
  .option('--preferences <json>', 'e.g. {"marketing":{"sms":false}}')
  .action(async (userId: string, o: Record<string, string | undefined>) => {
    const user: UserRequest = {
      ...(o.email ? { email: o.email } : {}),
      ...(o.phone ? { phone: o.phone } : {}),
      ...(o.locale ? { locale: o.locale } : {}),
      ...(o.preferences ? { preferences: JSON.parse(o.preferences) as UserRequest['preferences'] } : {}),
    };
    const saved = await client().putUser(userId, user);
    print(details(saved), saved);
  });
users
  .command('token <userId>')
  .description(
    "a short-lived user token for the user's browser: it registers and removes that user's push subscriptions only",
  )
  .action(async (userId: string) => {
    const made = await client().createUserToken(userId);
    print(made.token, made);
  });

program
  .command('tail')
  .description('follow the stream live, one line per entry (Ctrl+C stops)')
  .option('--from <streamId>', 'start after this entry instead of now')
  .action(async (o: { from?: string }) => {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    for await (const event of client().tail({ ...(o.from ? { from: o.from } : {}), signal: controller.signal })) {
      const line = event.malformed
        ? `${event.id}  malformed: ${event.malformed}`
        : `${event.id}  ${event.type}  user=${event.userId}  ` +
          `id=${event.notificationId}  channels=${event.channels?.join(',') ?? 'all'}`;
      process.stdout.write(`${program.opts().json ? JSON.stringify(event) : line}\n`);
    }
  });

try {
  await program.parseAsync(process.argv);
  process.exitCode = EXIT.ok;
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not errors; anything else commander refused is a usage error.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof OutcomeUnknown) {
    process.stderr.write(`herald: ${err.message}\n`);
    process.exitCode = EXIT.unknown;
  } else if (err instanceof HeraldApiError) {
    const issues = err.issues?.map((i) => `\n  ${i.path}: ${i.message}`).join('') ?? '';
    process.stderr.write(`herald: ${err.code}: ${err.message}${issues}\n`);
    process.exitCode = err.retryable || err.status === 0 || err.status >= 500 ? EXIT.unavailable : EXIT.refused;
  } else {
    process.stderr.write(`herald: ${(err as Error).message}\n`);
    process.exitCode = EXIT.usage;
  }
}
