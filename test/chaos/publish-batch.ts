import type { TestPublisher } from '../helpers/publisher.js';

/**
 * Publish one batch through `POST /v1/notifications/batch`, as a careful upstream app does: a 503
 * (Redis slow or away) is retried with the same ids, which the publisher deduplicates, until
 * `timeoutMs` has passed. Resolves with the ids answered `accepted` or `duplicate`; throws on any
 * other answer, or on an item that was refused.
 */
export async function publishBatch(
  pub: TestPublisher,
  notifications: Record<string, unknown>[],
  timeoutMs = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const res = await pub.app.inject({ method: 'POST', url: '/v1/notifications/batch', payload: { notifications } });
    if (res.statusCode === 202) {
      const results = res.json().results as ({ id: string; status: string } | { error: unknown })[];
      const refused = results.find((r) => 'error' in r);
      if (refused) throw new Error(`an item was refused: ${JSON.stringify(refused)}`);
      return results.map((r) => (r as { id: string }).id);
    }
    if (res.statusCode !== 503 || Date.now() > deadline)
      throw new Error(`batch answered ${res.statusCode} (attempt ${attempt}): ${res.body}`);
    // Backoff as the API's clients would use; the 503 itself came within HERALD_REDIS_TIMEOUT_MS.
    await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
  }
}
